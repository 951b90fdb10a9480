package dev.diagonal.serve;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a stream's messages go: one client's WebSocket, behind an interface so the generation loop needs no
 * web server to be tested. Sends block until the message is on its way, which bounds what a slow client can
 * make the server hold to one message.
 */
public interface StreamChannel {
    /** A JSON text message. Throws when the client is gone or stopped reading. */
    void sendText(String json) throws IOException;

    /** A binary message (a frame, see {@link FrameMessage}). Throws when the client is gone or stopped reading. */
    void sendBinary(ByteBuffer message) throws IOException;

    /** Closes the connection with a WebSocket status code and reason; harmless when already closed. */
    void close(int code, String reason);
}
