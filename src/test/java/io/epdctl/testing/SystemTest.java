package io.epdctl.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A test (class or method) that starts processes (simulators, sshd, shells, a JVM), runs real servers or
 * waits on timeouts: it runs in the full suite ({@code bin/test}) and not in the fast tier
 * ({@code bin/test --fast}), where the JDK is told to start no process, so that an untagged test that
 * starts one fails there.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("system")
public @interface SystemTest {
}
