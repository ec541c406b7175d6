import { openBus } from '../../src/messaging/bus.js';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { busContract } from './bus-contract.js';
import { coreContract } from './bus-contract-core.js';
import type { BusFactory } from './bus-harness.js';

const factory: BusFactory = async (label) => {
  const root = natsTestRoot(label);
  return {
    open: () => openBus({ kind: 'nats', url: NATS_URL, root }),
    cleanup: () => deleteNatsStreams(root),
  };
};

busContract('NATS JetStream', factory);
coreContract('NATS JetStream', factory);
