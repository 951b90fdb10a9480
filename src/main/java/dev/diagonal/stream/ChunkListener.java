package dev.diagonal.stream;

/** Receives each chunk the moment it is denoised: the streaming contract decoders and sinks build on. */
@FunctionalInterface
public interface ChunkListener {
    void onChunk(Chunk chunk) throws java.io.IOException;
}
