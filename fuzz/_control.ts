/**
 * The control block the fuzzer's thread and the allocator's worker share: one request at a
 * time, written into slots, its answer read back from them. Waiting on `DONE` with a timeout is
 * the watchdog.
 *
 *     Int32 slot  0 REQUEST    the request's number; the worker waits for it to change
 *                 1 DONE       the number of the last request answered
 *                 2 OP         CALL, SOAK or END
 *                 3 FUNCTION   for CALL: the index of the export in the worker's list
 *                 4 ARGC, 5..8 the arguments
 *                 9 RESULT     the call's result
 *                10 STATUS     OK, or THREW with the message in the text
 *                11 HEARTBEAT  operations done so far by a long request (a soak)
 *                12 TEXT       the text's length in UTF-16 units, the text from byte 256
 *                13 READY      set once the worker has compiled the module
 */

export const REQUEST = 0, DONE = 1, OP = 2, FUNCTION = 3, ARGC = 4, ARG0 = 5, RESULT = 9;
export const STATUS = 10, HEARTBEAT = 11, TEXT = 12, READY = 13;
export const CALL = 1, SOAK = 2, END = 3;
export const OK = 0, THREW = 1;
export const CONTROL_BYTES = 1 << 16;
const TEXT_START = 128; // in UTF-16 units: byte 256

/** Writes `text` (cut to fit) into the control block. */
export function writeText(control: Int32Array, text: string): void {
  const units = new Uint16Array(control.buffer, TEXT_START * 2);
  const length = Math.min(text.length, units.length);
  for (let i = 0; i < length; i++) units[i] = text.charCodeAt(i);
  control[TEXT] = length;
}

/** The text last written into the control block. */
export function readText(control: Int32Array): string {
  const units = new Uint16Array(control.buffer, TEXT_START * 2, control[TEXT]);
  let text = "";
  for (let i = 0; i < units.length; i += 4096) {
    text += String.fromCharCode(...units.subarray(i, i + 4096));
  }
  return text;
}
