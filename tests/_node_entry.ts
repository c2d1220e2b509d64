/**
 * What the Node tests bundle as `mote.js`: the package, and for the test that kills threads at
 * random points, the shared build's ticket log and the fuzz's replay of it through the model.
 *
 * @module
 */
export * from "../mod.ts";
export { readLog, sharedEngine, startLog, ticketsOf } from "../src/_shared_engine.ts";
export { replayLog } from "../fuzz/_replay.ts";
