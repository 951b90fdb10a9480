package dev.diagonal.serve;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.model.ModelBundle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The page in a real headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs): start
 * a stream, see frames arrive and change, switch the prompt, see the stream go on. Leaves a screenshot in
 * target/serve-page.png. Skips, saying so, where no browser is installed.
 */
class ServeBrowserTest {
    static final Path CHROMIUM = Path.of(System.getProperty("diagonal.chromium", "/usr/bin/chromium"));
    static final Path CHROMEDRIVER = Path.of(System.getProperty("diagonal.chromedriver", "/usr/bin/chromedriver"));

    @Test
    void aPersonWatchesAStreamAndChangesThePrompt(@TempDir Path profile) throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER), "no browser here: " + CHROMIUM
                + " and " + CHROMEDRIVER + " are needed (apt-get install chromium chromium-driver; .ci/run does)");
        try (CpuBackend backend = new CpuBackend(2);
             ServeModel model = ServeModel.open(ModelBundle.load(Path.of("weights")), backend);
             StreamServer server = new StreamServer(model, ServeLimits.DEFAULT, "127.0.0.1", 0, false, System.out)) {
            server.start();
            ChromeOptions options = new ChromeOptions();
            options.setBinary(CHROMIUM.toFile());
            // What Chromium needs to run headless as root in a container, with no network but loopback.
            options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1180,1000");
            ChromeDriverService service = new ChromeDriverService.Builder()
                    .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
            ChromeDriver browser = new ChromeDriver(service, options);
            try {
                browser.get(server.uri().toString());
                assertEquals("diagonal serve", browser.getTitle());
                WebElement view = browser.findElement(By.id("view"));
                assertTrue(view.getSize().getWidth() >= 256, "the 64x64 view is scaled up: " + view.getSize());
                type(browser, "prompt", ServeApiTest.RED);
                type(browser, "chunks", "200");
                browser.findElement(By.id("start")).click();

                waitFor(() -> shown(browser) >= 8, "frames on the page");
                long before = checksum(browser);
                long at = shown(browser);
                waitFor(() -> shown(browser) >= at + 8, "more frames");
                assertNotEquals(before, checksum(browser), "the picture changes from frame to frame");

                type(browser, "prompt", ServeApiTest.BLUE);
                browser.findElement(By.cssSelector("input[name=cache][value=reencode]")).click();
                browser.findElement(By.id("switch")).click();
                waitFor(() -> ((Number) js(browser, "return window.diagonalView.switches")).intValue() >= 1, "the switch");
                long afterSwitch = shown(browser);
                waitFor(() -> shown(browser) >= afterSwitch + 24, "frames after the switch");
                assertTrue(browser.findElement(By.id("now")).getText().contains(ServeApiTest.BLUE),
                        browser.findElement(By.id("now")).getText());
                assertTrue(browser.findElement(By.id("log")).getText().contains("cache: reencode"));

                File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
                Files.copy(shot.toPath(), Path.of("target", "serve-page.png"), StandardCopyOption.REPLACE_EXISTING);

                browser.findElement(By.id("stop")).click();
                waitFor(() -> "done".equals(js(browser, "return document.body.dataset.state")), "the stop");
                assertTrue(browser.findElement(By.id("now")).getText().startsWith("stopped"));
            } finally {
                browser.quit();
            }
        }
    }

    private static void type(ChromeDriver b, String id, String text) {
        WebElement e = b.findElement(By.id(id));
        e.clear();
        e.sendKeys(text);
    }

    private static Object js(ChromeDriver b, String script) {
        return ((JavascriptExecutor) b).executeScript(script);
    }

    private static long shown(ChromeDriver b) {
        return ((Number) js(b, "return window.diagonalView.framesShown")).longValue();
    }

    private static long checksum(ChromeDriver b) {
        return ((Number) js(b, "return window.diagonalView.checksum")).longValue();
    }

    /** Polls until the condition holds; two minutes is a liveness bound for a loaded machine, not a timing check. */
    private static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
        for (int i = 0; i < 1200; i++) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("waited two minutes for " + what);
    }
}
