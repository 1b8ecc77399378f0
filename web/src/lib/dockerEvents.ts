// What container actions and Docker events mean for a container's state as lists show it.
// Small on purpose: the live reducer (main bundle) imports it.

/** The state a successful action leaves the container in. */
export function stateAfterAction(action: string): { state: string; status: string } | null {
  switch (action) {
    case 'start':
    case 'restart':
    case 'unpause':
      return { state: 'running', status: 'Up' };
    case 'stop':
    case 'kill':
      return { state: 'exited', status: 'Exited' };
    case 'pause':
      return { state: 'paused', status: 'Up (Paused)' };
    default:
      return null;
  }
}

export type DockerEventEffect =
  | { kind: 'state'; state: string; status: string }
  | { kind: 'removed' }
  | { kind: 'refetch' }
  | { kind: 'none' };

/**
 * What a Docker container event (`container.update` from a worker: Docker's `action` and the
 * event's attributes) does to the container as the lists show it. `kill` and `stop` are followed
 * by `die`, which carries the exit code; exec, attach and friends change nothing.
 */
export function containerEventEffect(action: string, attributes: Record<string, unknown> = {}): DockerEventEffect {
  const base = action.split(':', 1)[0]!.trim();
  switch (base) {
    case 'start':
    case 'restart':
    case 'unpause':
      return { kind: 'state', state: 'running', status: 'Up' };
    case 'pause':
      return { kind: 'state', state: 'paused', status: 'Up (Paused)' };
    case 'die': {
      const code = attributes.exitCode;
      const c = typeof code === 'string' || typeof code === 'number' ? String(code) : '';
      return { kind: 'state', state: 'exited', status: c ? `Exited (${c})` : 'Exited' };
    }
    case 'destroy':
      return { kind: 'removed' };
    case 'create':
    case 'rename':
    case 'update':
    case 'health_status':
      return { kind: 'refetch' };
    default:
      return { kind: 'none' };
  }
}

