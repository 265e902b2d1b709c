package io.epdctl.topology;

/**
 * A 1-based line and column in the topology file. {@code through} is where the alias stands when the value
 * was reached through one ({@code env: *common}): the value is written here, the alias tells which use of
 * it the problem is about. Null otherwise.
 */
public record Location(int line, int column, Location through) {
    public static final Location START = new Location(1, 1);

    public Location(int line, int column) {
        this(line, column, null);
    }

    /** This location, as reached through the alias at {@code alias}. */
    Location reachedThrough(Location alias) {
        return new Location(line, column, new Location(alias.line, alias.column));
    }

    @Override
    public String toString() {
        return line + ":" + column;
    }
}
