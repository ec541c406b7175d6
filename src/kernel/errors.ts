/**
 * Every failure the platform reports carries a stable string code from this closed list.
 * The HTTP edge maps a code to a status; nothing else decides statuses.
 */
export const errorCodes = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  forbidden: { status: 403, title: 'This action is not allowed' },
  not_found: { status: 404, title: 'Not found' },
  version_conflict: { status: 409, title: 'The expected version does not match' },
  already_exists: { status: 409, title: 'It already exists' },
  precondition_failed: { status: 409, title: 'The command does not apply in the current state' },
  idempotency_key_reused: {
    status: 409,
    title: 'The idempotency key was used for a different request',
  },
  payload_too_large: { status: 413, title: 'The payload is too large' },
  unsupported_media_type: { status: 415, title: 'The media type is not supported' },
  rate_limited: { status: 429, title: 'Too many requests' },
  tenant_suspended: { status: 403, title: 'The tenant is suspended' },
  password_change_required: { status: 403, title: 'The password must be changed first' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'A dependency is unavailable' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface FieldError {
  path: string;
  message: string;
}

export interface ErrorDetails {
  errors?: FieldError[];
  [key: string]: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}

export function validationFailed(message: string, errors: FieldError[] = []): AppError {
  return new AppError('validation_failed', message, { errors });
}
