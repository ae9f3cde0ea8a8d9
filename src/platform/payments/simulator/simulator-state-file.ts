import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { NotificationDeliveries } from "./notification-deliveries.js";
import type { LedgerSnapshot } from "./simulator-ledger.js";

/**
 * What a restarted simulator needs to carry on: its payments and refunds (so checkout links and
 * refunds of earlier payments still work), the notifications it has not delivered yet (so they are
 * still delivered), and the port it listened on (so the links it handed out keep pointing at it).
 */
export interface SimulatorState {
  readonly version: 1;
  readonly port: number | null;
  readonly ledger: LedgerSnapshot;
  readonly deliveries: ReturnType<NotificationDeliveries["snapshot"]>;
}

/** The state kept at `path`, or undefined when there is none yet. */
export function readSimulatorState(path: string): SimulatorState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const state = JSON.parse(text) as SimulatorState;
  if (state.version !== 1)
    throw new Error(`${path}: unknown payment simulator state version ${state.version}`);
  return state;
}

/**
 * Writes the state file at most every `intervalMs` after a change (a burst of payments costs a
 * few writes, not one per change), and at once on `flush`. Each write replaces the file whole
 * (write a temporary file, then rename), so a crash leaves the previous state or the new one,
 * never half of one. What changed in the last interval before a crash is lost: acceptable for a
 * test-mode provider, and documented.
 */
export class SimulatorStateWriter {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly state: () => SimulatorState,
    private readonly intervalMs = 100,
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  changed(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.write();
  }

  private write(): void {
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.state()));
    renameSync(temporary, this.path);
  }
}
