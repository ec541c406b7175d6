export { type AppOptions, buildApp } from './app.js';
export {
  type Authenticate,
  type AuthenticateOptions,
  authorize,
  callerOf,
  FULL_ACCESS,
  idempotencyKey,
  ifMatchVersion,
  requestContext,
  unauthenticatedAdmin,
} from './context.js';
export { PROBLEM_CONTENT_TYPE, type Problem, problemOf, sendProblem } from './problem.js';
export { ProblemSchema } from './schemas.js';
