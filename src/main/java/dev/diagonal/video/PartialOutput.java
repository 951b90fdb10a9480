package dev.diagonal.video;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * An output written under a temporary name beside its final one ({@code name.partial}) and moved into place
 * only when complete, so a reader never sees a half-written video under the real name.
 */
final class PartialOutput {
    private final Path target;
    private final Path partial;

    PartialOutput(Path target) throws IOException {
        this.target = target.toAbsolutePath().normalize();
        Path dir = this.target.getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IOException("output directory " + dir + " does not exist");
        }
        if (Files.isDirectory(this.target)) {
            try (Stream<Path> s = Files.list(this.target)) {
                if (s.findAny().isPresent()) {
                    throw new FileAlreadyExistsException(this.target + " is a non-empty directory; refusing to overwrite it");
                }
            }
        }
        this.partial = this.target.resolveSibling(this.target.getFileName() + ".partial");
        delete(partial);
    }

    Path partial() {
        return partial;
    }

    Path target() {
        return target;
    }

    /** Moves the finished output into place, replacing an older file (or empty directory) of that name. */
    void commit() throws IOException {
        delete(target);
        try {
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(partial, target);
        }
    }

    /** Removes whatever was written. */
    void abandon() throws IOException {
        delete(partial);
    }

    private static void delete(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        if (Files.isDirectory(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(q);
                }
            } catch (DirectoryNotEmptyException e) {
                throw new IOException("could not remove " + p, e);
            }
        } else {
            Files.delete(p);
        }
    }
}
