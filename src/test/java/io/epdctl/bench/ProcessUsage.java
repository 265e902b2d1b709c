package io.epdctl.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** CPU time and resident memory of a process, from /proc (Linux). */
final class ProcessUsage {
    private final double millisPerTick;

    private ProcessUsage(double millisPerTick) {
        this.millisPerTick = millisPerTick;
    }

    /** Asks the system once for its clock tick (USER_HZ, normally 100). */
    static ProcessUsage ofThisSystem() throws IOException, InterruptedException {
        Process getconf = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
        String ticks = new String(getconf.getInputStream().readAllBytes()).strip();
        if (getconf.waitFor() != 0 || !ticks.matches("\\d+")) {
            throw new IOException("getconf CLK_TCK answered: " + ticks);
        }
        return new ProcessUsage(1000.0 / Integer.parseInt(ticks));
    }

    /** CPU time used so far, in milliseconds: user plus system, and the system part of it. */
    record CpuTime(double totalMillis, double kernelMillis) {
        CpuTime since(CpuTime earlier) {
            return new CpuTime(totalMillis - earlier.totalMillis, kernelMillis - earlier.kernelMillis);
        }
    }

    /** The CPU time the process has used so far. */
    CpuTime cpu(long pid) throws IOException {
        // /proc files report size 0: read them line by line, never by size (Files.readString cuts them)
        String stat = String.join("\n", Files.readAllLines(Path.of("/proc", String.valueOf(pid), "stat")));
        // fields after the command name (which may hold spaces, in parentheses): state is field 3, utime 14, stime 15
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long user = Long.parseLong(fields[11]);
        long system = Long.parseLong(fields[12]);
        return new CpuTime((user + system) * millisPerTick, system * millisPerTick);
    }

    /** Resident set size in MiB. */
    static double rssMiB(long pid) throws IOException {
        List<String> status = Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"));
        for (String line : status) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        }
        throw new IOException("no VmRSS in /proc/" + pid + "/status");
    }
}
