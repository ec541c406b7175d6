import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/index.js';
import { AppError, createLogger, errorCodes } from '../../src/kernel/index.js';

describe('HTTP edge', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp({
      logger: createLogger('silent'),
      bodyLimitBytes: 1024,
      contexts: [
        {
          plugin: async (scope) => {
            scope.post(
              '/echo',
              {
                schema: {
                  body: { type: 'object', required: ['name', 'size'], properties: { name: { type: 'string' }, size: { type: 'integer' } } },
                },
              },
              async (request) => request.body,
            );
            scope.get('/conflict', async () => {
              throw new AppError('version_conflict', 'Stream s is at version 3, expected 2', { actual: 3, status: 999 });
            });
            scope.get('/crash', async () => {
              throw new Error('connection string postgres://admin:hunter2@db leaked');
            });
          },
        },
      ],
    });
  });
  after(() => app.close());

  it('renders a domain error as problem+json with its stable code and details', async () => {
    const response = await app.inject({ method: 'GET', url: '/conflict?x=1' });
    assert.equal(response.statusCode, 409);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    const problem = response.json();
    assert.equal(problem.code, 'version_conflict');
    assert.equal(problem.status, 409, 'a detail named status cannot override the standard member');
    assert.equal(problem.actual, 3);
    assert.equal(problem.instance, '/conflict');
  });

  it('lists every schema violation of a body', async () => {
    const response = await app.inject({ method: 'POST', url: '/echo', payload: { size: 'big' } });
    assert.equal(response.statusCode, 400);
    const problem = response.json();
    assert.equal(problem.code, 'validation_failed');
    assert.ok(problem.errors.length >= 2, JSON.stringify(problem.errors));
    assert.ok(problem.errors.every((e: { path: string }) => e.path.startsWith('/body')));
  });

  it('answers malformed JSON, oversized bodies and foreign media types with their codes', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    assert.equal(malformed.json().code, 'validation_failed');
    const oversized = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'x'.repeat(2000), size: 1 } });
    assert.equal(oversized.statusCode, 413);
    assert.equal(oversized.json().code, 'payload_too_large');
    const xml = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    assert.equal(xml.statusCode, 415);
    assert.equal(xml.json().code, 'unsupported_media_type');
  });

  it('never leaks the cause of an internal error', async () => {
    const response = await app.inject({ method: 'GET', url: '/crash' });
    assert.equal(response.statusCode, 500);
    assert.equal(response.json().code, 'internal');
    assert.doesNotMatch(response.body, /hunter2|postgres/);
  });

  it('answers unknown routes with not_found', async () => {
    const response = await app.inject({ method: 'GET', url: '/no/such/route' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().code, 'not_found');
  });

  it('serves the generated OpenAPI document', async () => {
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().openapi, '3.1.0');
    assert.ok(response.json().paths['/echo']);
  });

  it('documents every error code with its status', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, { status }] of Object.entries(errorCodes)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `docs/errors.md documents ${code}`);
    }
  });
});
