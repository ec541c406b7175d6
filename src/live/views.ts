import {
  type EventFilter,
  eventFilter,
  eventJson,
  type LoadedModule,
  loadModules,
  type ModuleRegistry,
  upcastData,
} from '../datamodel/index.js';
import type { DocumentStore } from '../documents/port.js';
import type { RecordedEvent } from '../eventstore/index.js';
import type { JsonValue, Principal } from '../kernel/index.js';
import type { Frame } from './output.js';

export interface ViewDeps {
  documents: DocumentStore;
  registry: ModuleRegistry;
}

/** `id: <position>`, `event: <type>`, `data: <the /events item>`: one SSE block. */
export function eventFrame(event: RecordedEvent, data: JsonValue): Frame {
  const json = JSON.stringify(eventJson(event, data));
  return { bytes: Buffer.from(`id: ${event.position}\nevent: ${event.type}\ndata: ${json}\n\n`), id: event.position, event: true };
}

/**
 * The events of one tenant, as each permission class sees them, exactly as `GET /events` shows
 * them (same upcasting, same `eventFilter`). Modules are loaded once, each event is upcast once,
 * and each (event, class) pair is computed once, however many subscribers share the class.
 */
export class TenantViews {
  private modules: Promise<Map<string, LoadedModule | undefined>> | undefined;
  private readonly upcasts = new Map<bigint, JsonValue>();
  private readonly filters = new Map<string, EventFilter>();
  /** Per event position, per class. */
  private readonly views = new Map<bigint, Map<string, Promise<Frame | undefined>>>();

  constructor(
    private readonly deps: ViewDeps,
    private readonly tenant: string,
    /** The events these views are asked about (which modules to load). */
    private readonly events: readonly RecordedEvent[],
  ) {}

  /** The frame the class sees, or undefined when it may not see the event. Rejects when it cannot be computed. */
  view(event: RecordedEvent, classKey: string, principal: Principal): Promise<Frame | undefined> {
    let classes = this.views.get(event.position);
    if (!classes) {
      classes = new Map();
      this.views.set(event.position, classes);
    }
    let view = classes.get(classKey);
    if (!view) {
      view = this.compute(event, classKey, principal);
      classes.set(classKey, view);
    }
    return view;
  }

  /** Forgets the views of an event once every subscriber has been served. */
  done(event: RecordedEvent): void {
    this.upcasts.delete(event.position);
    this.views.delete(event.position);
  }

  private async compute(event: RecordedEvent, classKey: string, principal: Principal): Promise<Frame | undefined> {
    this.modules ??= loadModules(this.deps.registry, this.tenant, [...this.events]);
    const modules = await this.modules;
    let data = this.upcasts.get(event.position);
    if (data === undefined) {
      data = upcastData(event, modules);
      this.upcasts.set(event.position, data);
    }
    let filter = this.filters.get(classKey);
    if (!filter) {
      filter = eventFilter(principal, this.tenant, this.deps.documents, modules);
      this.filters.set(classKey, filter);
    }
    const seen = await filter(event, data);
    return seen ? eventFrame(event, seen.data) : undefined;
  }
}
