/**
 * @callflow/flow-core/redis: the session store, the reservation store and the session lock on
 * Redis (ioredis), for many stateless workers sharing one Redis or a Redis Cluster. A separate
 * entry point, so that the in-memory runtime never loads a Redis client.
 *
 * @packageDocumentation
 */
export { RedisSessionStore, type RedisSessionStoreOptions, type RedisClient } from './store/redis-session-store.js';
export { RedisReservationStore, type RedisReservationStoreOptions } from './secure/redis-reservation-store.js';
export { RedisSessionLock, type RedisSessionLockOptions } from './store/redis-session-lock.js';
