package io.epdctl.lifecycle;

import static io.epdctl.shell.Shell.quote;

import io.epdctl.topology.RestartPolicy;
import java.time.Duration;

/**
 * The supervisor of one node (or the proxy): a small POSIX sh script, written next to the node's script as
 * {@code NAME.supervise}, that leads the node's process group on its host. It runs {@code ./NAME.sh}; when that
 * exits non-zero or by a signal, the policy is {@code on-failure}, epdctl has marked the node armed (seen it
 * ready: {@code NAME.armed}) and no stop was asked ({@code NAME.stop}, or a SIGTERM to the group), it records the
 * exit, keeps the run's log, stops what the run left in the group, waits (backoff) and starts it again. Because
 * it runs on the host, it heals while epdctl is not running and when the SSH connection is gone.
 * <p>
 * Files in the run directory, all named after the node: {@code NAME.pid} (the supervisor's pid, the group),
 * {@code NAME.exits} (one line per exit of the script: epoch seconds, status, and what the supervisor did:
 * {@link #RESTART}, {@link #CRASH_LOOP}, {@code stopped}, {@code succeeded}, {@code never-ready},
 * {@code not-restarted}), {@code NAME.restarting} (while waiting to start again: the next attempt's number and
 * the epoch second it starts), {@code NAME.exit} (the last status, written when the supervisor ends), and the
 * logs: {@code NAME.log} for the current run, {@code NAME.log.1} (the run before) up to
 * {@code NAME.log.}{@link #KEPT_LOGS}.
 */
public final class Supervisor {
    /** What {@code NAME.exits} says when the script was started again. */
    static final String RESTART = "restart";
    /** What {@code NAME.exits} says when the retries stopped. */
    static final String CRASH_LOOP = "crash-loop";

    /**
     * This many exits within {@link #CRASH_LOOP_WINDOW} stop the retries: a node that cannot stay up for
     * minutes is broken in a way restarting does not fix (a bad NPU, a full disk), and restarting it for ever
     * keeps loading a model over and over and fills its log. The same as Kubernetes' CrashLoopBackOff would
     * reach in that time, and issue 14's example.
     */
    static final int CRASH_LOOP_EXITS = 5;
    static final Duration CRASH_LOOP_WINDOW = Duration.ofMinutes(10);
    /** The wait before the first new start, doubled for each further exit within the window. */
    static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
    /** The longest wait between attempts (reached only with more exits than a crash loop allows today). */
    static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
    /** Logs of earlier runs kept: every run of a crash loop, so that its first crash can still be read. */
    static final int KEPT_LOGS = CRASH_LOOP_EXITS;

    private Supervisor() {
    }

    /** The file's name in the run directory. */
    static String fileName(String name) {
        return name + ".supervise";
    }

    /** The supervisor script of node {@code name}, run in its run directory by {@code sh}. */
    static String script(String name, RestartPolicy policy) {
        return "# epdctl's supervisor of " + name.replaceAll("[^A-Za-z0-9_.-]", "?") + ": leads its process group, runs its script and,\n"
                + "# by its restart policy, starts it again after a crash. Written by epdctl (docs/operations.md, Restart policy).\n"
                + "name=" + quote(name) + "\n"
                + "policy=" + quote(policy.yamlName()) + "\n"
                + "max_exits=" + CRASH_LOOP_EXITS + "\n"
                + "window=" + CRASH_LOOP_WINDOW.toSeconds() + "\n"
                + "first_delay=" + FIRST_BACKOFF.toSeconds() + "\n"
                + "max_delay=" + MAX_BACKOFF.toSeconds() + "\n"
                + "kept_logs=" + KEPT_LOGS + "\n"
                + """
                echo $$ > "$name.pid"
                # A stop (down, or up replacing the node) signals the whole group; from then on nothing starts again.
                stopping=
                trap 'stopping=1' TERM INT HUP
                stop_asked() { [ -n "$stopping" ] || [ -e "$name.stop" ]; }
                say() { printf '%s epdctl supervisor: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
                # NAME.log becomes NAME.log.1, NAME.log.1 becomes NAME.log.2, ...; the oldest beyond kept_logs goes.
                rotate() {
                  if [ -e "$name.log" ]; then
                    i=$kept_logs
                    while [ "$i" -gt 1 ]; do j=$((i - 1)); if [ -e "$name.log.$j" ]; then mv -f -- "$name.log.$j" "$name.log.$i"; fi; i=$j; done
                    mv -f -- "$name.log" "$name.log.1"
                  fi
                  exec >> "$name.log" 2>&1
                }
                # What a crashed run left in the group (a killed vLLM leaves its EngineCore holding the NPUs): TERM, then KILL.
                others() { ps -e -o pgid=,pid= | awk -v g="$$" '$1 == g && $2 != g { print $2 }'; }
                stop_others() {
                  left=$(others)
                  [ -n "$left" ] || return 0
                  kill -TERM $left 2>/dev/null
                  i=0
                  while [ $i -lt 50 ] && [ -n "$(for p in $left; do kill -0 "$p" 2>/dev/null && echo "$p"; done)" ]; do sleep 0.1; i=$((i + 1)); done
                  left=$(others)
                  [ -z "$left" ] || kill -KILL $left 2>/dev/null
                }
                rotate
                exec < /dev/null
                exits=
                attempt=1
                status=0
                while :; do
                  rm -f -- "$name.restarting"
                  if stop_asked; then outcome=stopped; break; fi
                  "./$name.sh"
                  status=$?
                  now=$(date +%s)
                  recent=
                  for t in $exits $now; do if [ $((now - t)) -lt "$window" ]; then recent="$recent $t"; fi; done
                  exits=$recent
                  set -- $exits
                  count=$#
                  if stop_asked; then outcome=stopped
                  elif [ "$status" -eq 0 ]; then outcome=succeeded
                  elif [ "$policy" != on-failure ]; then outcome=not-restarted
                  elif [ ! -e "$name.armed" ]; then outcome=never-ready
                  elif [ "$count" -ge "$max_exits" ]; then outcome=crash-loop
                  else outcome=restart
                  fi
                  echo "$now $status $outcome" >> "$name.exits"
                  if [ "$outcome" != restart ]; then break; fi
                  delay=$first_delay
                  i=1
                  while [ "$i" -lt "$count" ] && [ "$delay" -lt "$max_delay" ]; do delay=$((delay * 2)); i=$((i + 1)); done
                  if [ "$delay" -gt "$max_delay" ]; then delay=$max_delay; fi
                  attempt=$((attempt + 1))
                  echo "$attempt $((now + delay))" > "$name.restarting.tmp" && mv -f -- "$name.restarting.tmp" "$name.restarting"
                  rotate
                  say "$name exited with status $status; starting it again in $delay s (attempt $attempt; $count of $max_exits exits within $window s stop the retries; the run's log is $name.log.1)"
                  stop_others
                  sleep "$delay"
                done
                case $outcome in
                  crash-loop) say "$name exited with status $status: $count exits within $window s, a crash loop; not starting it again" ;;
                  never-ready) say "$name exited with status $status before it was ever ready; not starting it again" ;;
                  stopped) say "$name stopped" ;;
                  *) say "$name exited with status $status (restart policy $policy)" ;;
                esac
                echo "$status" > "$name.exit"
                """;
    }
}
