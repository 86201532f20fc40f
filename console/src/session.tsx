// Who is signed in, what they may do, and the idle lock (PWD-5). The session comes from
// GET /api/auth/session; the lock is shown when the API answers `session_locked` and also after
// `idleLockMinutes` without keyboard, mouse or touch input in this tab. Locking keeps the page:
// the overlay covers it and requests wait until the password is given again.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { ApiError, api, setCsrfToken, setSessionHandlers } from './api.ts';
import type { Session } from './types.ts';

export const SESSION_KEY = ['session'] as const;
/** How often the idle timer looks at the clock. */
const IDLE_CHECK_MS = 5_000;
const IDLE_MARGIN_MS = 2_000;
const ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'];

export interface SessionValue {
  session: Session | undefined;
  /** True while the first answer from the server is awaited. */
  loading: boolean;
  can(permission: string): boolean;
  locked: boolean;
  lock(): void;
  /** Gives the password again; throws the API's error when it is wrong. */
  unlock(password: string): Promise<void>;
  signOut(): Promise<void>;
  refresh(): Promise<Session | undefined>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession needs a SessionProvider');
  return value;
}

export const fetchSession = () => api<Session>('/api/auth/session', { quiet: true });

/** The sign-in address that brings the person back to where they were. */
export function signInPath(location: { pathname: string; search: string; hash: string }): string {
  const here = `${location.pathname}${location.search}${location.hash}`;
  return here === '/' || location.pathname.startsWith('/sign-in')
    ? '/sign-in'
    : `/sign-in?next=${encodeURIComponent(here)}`;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const query = useQuery({
    queryKey: SESSION_KEY,
    queryFn: fetchSession,
    staleTime: Number.POSITIVE_INFINITY,
    retry: 1,
  });
  const session = query.data;
  const [locked, setLocked] = useState(false);
  const waiting = useRef<((retry: boolean) => void)[]>([]);
  const lastActivity = useRef(Date.now());
  const locationRef = useRef(location);
  locationRef.current = location;

  useEffect(() => {
    setCsrfToken(session?.csrfToken);
    if (session?.state === 'locked') setLocked(true);
  }, [session]);

  const release = useCallback((retry: boolean) => {
    const resolvers = waiting.current;
    waiting.current = [];
    for (const resolve of resolvers) resolve(retry);
  }, []);

  const refresh = useCallback(async () => {
    // staleTime 0: always ask the server, whatever the cache holds.
    return queryClient.fetchQuery({ queryKey: SESSION_KEY, queryFn: fetchSession, staleTime: 0 });
  }, [queryClient]);

  const goToSignIn = useCallback(
    (reason?: string) => {
      const current = locationRef.current;
      if (current.pathname.startsWith('/sign-in')) return;
      navigate(signInPath(current), { replace: true, state: reason ? { reason } : undefined });
    },
    [navigate],
  );

  useEffect(() => {
    setSessionHandlers({
      locked: () =>
        new Promise<boolean>((resolve) => {
          waiting.current.push(resolve);
          setLocked(true);
        }),
      signedOut: (error: ApiError) => {
        release(false);
        setLocked(false);
        void refresh().finally(() => goToSignIn(error.message));
      },
    });
    return () => setSessionHandlers(null);
  }, [goToSignIn, refresh, release]);

  const lock = useCallback(() => setLocked(true), []);

  // PWD-5 on this side too: no input for idleLockMinutes locks the console, even if the
  // server has not noticed yet (it locks on its own clock as well).
  const idleMinutes = session?.idleLockMinutes;
  const active = session?.state === 'ok' && !locked;
  useEffect(() => {
    if (!active || !idleMinutes) return;
    lastActivity.current = Date.now();
    const mark = () => {
      lastActivity.current = Date.now();
    };
    for (const name of ACTIVITY_EVENTS) {
      window.addEventListener(name, mark, { passive: true, capture: true });
    }
    const timer = window.setInterval(() => {
      // A moment after the server's own limit, so that the server has locked the session too
      // and the password given on the overlay is checked there.
      if (Date.now() - lastActivity.current >= idleMinutes * 60_000 + IDLE_MARGIN_MS) {
        setLocked(true);
      }
    }, IDLE_CHECK_MS);
    return () => {
      window.clearInterval(timer);
      for (const name of ACTIVITY_EVENTS) {
        window.removeEventListener(name, mark, { capture: true });
      }
    };
  }, [active, idleMinutes]);

  const unlock = useCallback(
    async (password: string) => {
      try {
        await api('/api/auth/unlock', { method: 'POST', body: { password }, quiet: true });
      } catch (error) {
        // `conflict`: the server's session is not locked, because it was used within the idle
        // time (from another tab of this browser). The session is live, so this tab goes on.
        if (!(error instanceof ApiError && error.code === 'conflict')) throw error;
      }
      lastActivity.current = Date.now();
      const next = await refresh();
      setLocked(false);
      release(true);
      if (next && next.state !== 'ok') goToSignIn();
    },
    [refresh, release, goToSignIn],
  );

  const signOut = useCallback(async () => {
    try {
      await api('/api/auth/sign-out', { method: 'POST', quiet: true });
    } catch {
      // Signed out already, or the server is away: the page forgets the session either way.
    }
    release(false);
    setLocked(false);
    setCsrfToken(null);
    queryClient.clear();
    await refresh().catch(() => undefined);
    navigate('/sign-in', { replace: true, state: { reason: 'You have signed out.' } });
  }, [navigate, queryClient, refresh, release]);

  const value = useMemo<SessionValue>(() => {
    const granted = new Set(session?.permissions ?? []);
    return {
      session,
      loading: query.isPending,
      can: (permission) => granted.has(permission),
      locked,
      lock,
      unlock,
      signOut,
      refresh,
    };
  }, [session, query.isPending, locked, lock, unlock, signOut, refresh]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
