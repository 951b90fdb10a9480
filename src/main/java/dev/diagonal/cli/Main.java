package dev.diagonal.cli;

/** The diagonal command line (commands arrive with the I/O and CPU backend packages). */
public final class Main {
    private Main() {
    }

    public static void main(String[] argv) {
        System.err.println("diagonal: no commands yet");
        System.exit(2);
    }
}
