// The admin API as the dashboard uses it: bearer token from sessionStorage, JSON in and out,
// errors carrying the API's problem document.

const TOKEN_KEY = 'egressd.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(secret) {
  if (secret) {
    sessionStorage.setItem(TOKEN_KEY, secret);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** A refused request: `status`, the error `code`, its `message` and any 422 `problems`. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the API answered ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.problems = (body && body.problems) || [];
    this.body = body;
  }
}

let onUnauthorized = () => {};

/** Called when the API refuses the token (401): the app signs out. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/**
 * Calls the API. Resolves to `{ body, etag }`; rejects with an ApiError.
 * `ifMatch` sends the revision the change is based on.
 */
export async function call(method, path, body, ifMatch) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch) headers['If-Match'] = ifMatch;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, { error: 'network', message: `the node did not answer: ${e.message}` });
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { message: text };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return { body: json, etag: response.headers.get('ETag') };
}

export const get = (path) => call('GET', path);

/** `encodeURIComponent` for one path segment. */
export const seg = (text) => encodeURIComponent(text);
