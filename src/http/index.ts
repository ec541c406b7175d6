export { type AppOptions, buildApp } from './app.js';
export { type Authenticate, idempotencyKey, ifMatchVersion, noAuthenticator, requestContext, unauthenticatedAdmin } from './context.js';
export { PROBLEM_CONTENT_TYPE, type Problem, problemOf, sendProblem } from './problem.js';
export { ProblemSchema } from './schemas.js';
