/**
 * Decodes base64 with `atob`, which every runtime mote supports has (Deno, Node 16+, browsers),
 * unlike `Uint8Array.fromBase64`.
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
