import { type FieldError, validationFailed } from '../../kernel/index.js';

/** Collects every problem found in a request, then fails once listing them all. */
export class Problems {
  readonly errors: FieldError[] = [];

  add(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  get empty(): boolean {
    return this.errors.length === 0;
  }

  throwIfAny(message: string): void {
    if (!this.empty) throw validationFailed(message, this.errors);
  }
}

/** Runs `check` and throws validation_failed if it reported anything. */
export function validate<T>(message: string, check: (problems: Problems) => T): T {
  const problems = new Problems();
  const result = check(problems);
  problems.throwIfAny(message);
  return result;
}

/** The items of a comma-separated list parameter: "a,b" → ['a', 'b']; '' or undefined → []. */
export function listItems(text: string | undefined): string[] {
  return text === undefined || text.trim() === '' ? [] : text.split(',').map((item) => item.trim());
}
