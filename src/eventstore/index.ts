export { type Consumer, type ConsumerOptions, startConsumer } from './consumer.js';
export type * from './port.js';
export { READ_LIMIT_DEFAULT, READ_LIMIT_MAX } from './port.js';
export { APPEND_LIMITS } from './prepare.js';
