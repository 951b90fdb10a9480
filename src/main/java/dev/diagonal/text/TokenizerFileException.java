package dev.diagonal.text;

import java.io.IOException;
import java.nio.file.Path;

/** A tokenizer file that cannot be used, naming the file and what is wrong with it. */
public final class TokenizerFileException extends IOException {
    public TokenizerFileException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
