// The console's only way to the server: GraphQL over HTTP (POST /graphql) and subscriptions over
// graphql-transport-ws (the same path). Errors keep the graph's `extensions.code`, which the
// screens act on (CONFLICT reloads the card, FORBIDDEN explains, UNAUTHENTICATED signs out).
import { createClient, type Client } from "graphql-ws";
import type { TypedDocumentString } from "./generated";

export const GRAPHQL_PATH = "/graphql";

export type ErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "NETWORK"
  | string;

export class GraphQLRequestError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(message: string, code: ErrorCode, status: number) {
    super(message);
    this.name = "GraphQLRequestError";
    this.code = code;
    this.status = status;
  }
}

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string };
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

/**
 * The data of an answer; its first error (with its code) when there is no data to show. Partial
 * data is kept: a board whose customers' names could not be fetched (a subgraph down) still
 * shows its cards; a failed mutation has no data and throws.
 */
export function unwrap<T>(body: GraphQLBody<T>, status: number): T {
  const first = body.errors?.[0];
  const data = body.data as Record<string, unknown> | null | undefined;
  const nothing = data == null || Object.values(data).every((v) => v == null);
  if (first && nothing) {
    throw new GraphQLRequestError(first.message, first.extensions?.code ?? "INTERNAL", status);
  }
  if (body.data == null) {
    throw new GraphQLRequestError(`no data (HTTP ${status})`, status === 401 ? "UNAUTHENTICATED" : "INTERNAL", status);
  }
  return body.data;
}

type TokenSource = () => string | null;

let tokenSource: TokenSource = () => null;
let onUnauthenticated: () => void = () => {};

export function configureClient(source: TokenSource, unauthenticated: () => void): void {
  tokenSource = source;
  onUnauthenticated = unauthenticated;
  void wsClient?.dispose();
  wsClient = null;
  socketUp = false;
}

export async function request<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  fetchImpl: typeof fetch = fetch,
): Promise<TResult> {
  const token = tokenSource();
  let response: Response;
  try {
    response = await fetchImpl(GRAPHQL_PATH, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch (error) {
    throw new GraphQLRequestError(String(error), "NETWORK", 0);
  }
  let body: GraphQLBody<TResult>;
  try {
    body = (await response.json()) as GraphQLBody<TResult>;
  } catch {
    body = { errors: [{ message: `HTTP ${response.status}`, extensions: { code: response.status === 401 ? "UNAUTHENTICATED" : "INTERNAL" } }] };
  }
  try {
    return unwrap(body, response.status);
  } catch (error) {
    if (error instanceof GraphQLRequestError && error.code === "UNAUTHENTICATED") onUnauthenticated();
    throw error;
  }
}

let wsClient: Client | null = null;
let socketUp = false;

function subscriptions(): Client {
  if (wsClient === null) {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    wsClient = createClient({
      url: `${scheme}://${window.location.host}${GRAPHQL_PATH}`,
      // The token travels in connection_init, never in the URL (URLs end up in logs).
      connectionParams: () => {
        const token = tokenSource();
        return token ? { Authorization: `Bearer ${token}` } : {};
      },
      retryAttempts: Infinity,
      shouldRetry: () => true,
      lazy: true,
    });
    wsClient.on("connected", () => (socketUp = true));
    wsClient.on("closed", () => (socketUp = false));
  }
  return wsClient;
}

/** Subscribe; returns the unsubscribe function. */
export function subscribe<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  onData: (data: TResult) => void,
  onError: (error: unknown) => void = () => {},
): () => void {
  return subscriptions().subscribe<TResult>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (value) => {
        if (value.data) onData(value.data as TResult);
      },
      error: onError,
      complete: () => {},
    },
  );
}

/** Told true when the subscription socket is up, false when it dropped. */
export function onConnectionChange(listener: (up: boolean) => void): () => void {
  const client = subscriptions();
  if (socketUp) queueMicrotask(() => listener(true));
  const offConnected = client.on("connected", () => listener(true));
  const offClosed = client.on("closed", () => listener(false));
  return () => {
    offConnected();
    offClosed();
  };
}
