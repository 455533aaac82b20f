/**
 * The one place that loads @peculiar/x509: it needs reflect-metadata first and a WebCrypto provider.
 * Node 20's own WebCrypto does everything we need (ECDSA P-256/P-384, Ed25519), so no polyfill.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export const subtle = webcrypto.subtle;
