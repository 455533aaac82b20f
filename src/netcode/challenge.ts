import { ByteReader, ByteWriter } from './bytes.js';
import { CHALLENGE_TOKEN_BYTES, MAC_BYTES, USER_DATA_BYTES } from './constants.js';
import { aeadDecrypt, aeadEncrypt } from './sodium.js';

export interface ChallengeToken {
  clientId: bigint;
  userData: Uint8Array;
}

/** Nonce for packets and challenge tokens: four zero bytes then the sequence as u64 LE. */
export function sequenceNonce(sequence: bigint): Uint8Array {
  return new ByteWriter(12).u32(0).u64(sequence).buf;
}

/** Encrypts a challenge token (284 bytes plaintext -> 300 bytes) with no AD. */
export function encryptChallengeToken(token: ChallengeToken, sequence: bigint, key: Uint8Array): Uint8Array {
  const w = new ByteWriter(CHALLENGE_TOKEN_BYTES - MAC_BYTES);
  const ud = new Uint8Array(USER_DATA_BYTES);
  ud.set(token.userData.subarray(0, USER_DATA_BYTES));
  w.u64(token.clientId).bytes(ud);
  return aeadEncrypt(w.buf, null, sequenceNonce(sequence), key);
}

export function decryptChallengeToken(encrypted: Uint8Array, sequence: bigint, key: Uint8Array): ChallengeToken | null {
  if (encrypted.length !== CHALLENGE_TOKEN_BYTES) return null;
  const plain = aeadDecrypt(encrypted, null, sequenceNonce(sequence), key);
  if (!plain) return null;
  const r = new ByteReader(plain);
  return { clientId: r.u64()!, userData: r.bytes(USER_DATA_BYTES)! };
}
