// replicaset: the ReplicaSet and ReplicationController controllers — one implementation, one row per kind.
import type { Controller, ControllerContext } from '../types.ts';
import { ReplicaSetController } from './controller.ts';
import { REPLICATION_CONTROLLER, REPLICA_SET } from './kinds.ts';

/** newReplicaSetController keeps the pods of every apps/v1 ReplicaSet. */
export function newReplicaSetController(ctx: ControllerContext): Controller {
  return new ReplicaSetController(ctx, REPLICA_SET);
}

/** newReplicationControllerController keeps the pods of every v1 ReplicationController. */
export function newReplicationControllerController(ctx: ControllerContext): Controller {
  return new ReplicaSetController(ctx, REPLICATION_CONTROLLER);
}
