/** An error of the token, revocation or introspection endpoint, answered the RFC 6749 way (§5.2). */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 429,
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unsupported_grant_type'
      | 'unsupported_token_type'
      | 'rate_limited',
    readonly description: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}
