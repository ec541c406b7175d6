/** DER of the OID prime256v1 (1.2.840.10045.3.1.7): CKA_EC_PARAMS of a P-256 key. */
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

const POINT_BYTES = 65;

/**
 * The affine coordinates of a P-256 public key from CKA_EC_POINT: the uncompressed point
 * (04 || x || y) wrapped in a DER OCTET STRING (04 41 ...), or bare as some tokens return it.
 */
export function p256Point(ecPoint: Buffer): { x: Buffer; y: Buffer } {
  let point = ecPoint;
  if (point.length === POINT_BYTES + 2 && point[0] === 0x04 && point[1] === POINT_BYTES) point = point.subarray(2);
  if (point.length !== POINT_BYTES || point[0] !== 0x04) throw new Error('CKA_EC_POINT is not an uncompressed P-256 point');
  return { x: point.subarray(1, 33), y: point.subarray(33) };
}
