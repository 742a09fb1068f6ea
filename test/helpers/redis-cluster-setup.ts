import type { TestProject } from 'vitest/node';
import { startRedisCluster } from './redis-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The seed nodes (`host:port`) of the cluster every file of the `cluster` project shares. */
    redisCluster: string[];
  }
}

/**
 * Global setup of the `cluster` project: one Redis Cluster (3 masters, 3 replicas, free loopback
 * ports, temp folders) for all its files, which keep apart by using spaces of their own. Files
 * that kill a node start a cluster of their own.
 */
export default async function setup(project: TestProject) {
  const cluster = await startRedisCluster();
  project.provide('redisCluster', [...cluster.seeds]);
  return async () => {
    await cluster.dispose();
  };
}
