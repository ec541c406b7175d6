export * from './context.js';
export * from './errors.js';
export * from './ids.js';
export * from './json.js';
export * from './logger.js';
export * from './waker.js';
