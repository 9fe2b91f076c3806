/**
 * @callflow/flow-core/redis: the session and reservation stores on Redis (ioredis), for many
 * stateless workers sharing one Redis or a Redis Cluster. A separate entry point, so that
 * the in-memory runtime never loads a Redis client.
 *
 * @packageDocumentation
 */
export { RedisSessionStore, type RedisSessionStoreOptions, type RedisClient } from './store/redis-session-store.js';
export { RedisReservationStore, type RedisReservationStoreOptions } from './secure/redis-reservation-store.js';
