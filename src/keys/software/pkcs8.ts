/**
 * The private scalar of a P-256 key in PKCS#8 DER (RFC 5208 wrapping an RFC 5915 ECPrivateKey).
 * Importing the key from a JWK with this scalar is ten times faster in Node than importing the
 * PKCS#8 itself (OpenSSL 3's decoders), and the vault imports a key for every signature. The
 * input is the vault's own, authenticated plaintext; anything unexpected fails.
 */
const P256_ALGORITHM = Buffer.from('06072a8648ce3d020106082a8648ce3d030107', 'hex');

interface Element {
  tag: number;
  start: number;
  end: number;
}

function element(der: Buffer, offset: number, tag: number): Element {
  const found = der[offset];
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length > 0x80) {
    const bytes = length & 0x7f;
    if (bytes > 2) throw new Error('unexpected DER length');
    length = der.readUIntBE(start, bytes);
    start += bytes;
  }
  if (found !== tag || start + length > der.length) throw new Error('unexpected DER structure');
  return { tag, start, end: start + length };
}

export function p256PrivateScalar(der: Buffer): Buffer {
  const outer = element(der, 0, 0x30);
  const version = element(der, outer.start, 0x02);
  const algorithm = element(der, version.end, 0x30);
  if (!der.subarray(algorithm.start, algorithm.end).equals(P256_ALGORITHM)) throw new Error('not a P-256 key');
  const wrapped = element(der, algorithm.end, 0x04);
  const ecPrivateKey = element(der, wrapped.start, 0x30);
  const ecVersion = element(der, ecPrivateKey.start, 0x02);
  const scalar = element(der, ecVersion.end, 0x04);
  if (scalar.end - scalar.start !== 32) throw new Error('unexpected P-256 scalar size');
  return der.subarray(scalar.start, scalar.end);
}
