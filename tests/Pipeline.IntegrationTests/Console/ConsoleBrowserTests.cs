using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Pipeline.Contracts;
using Pipeline.Serving.Predict;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Console;

/// <summary>
/// The web console in a real browser (headless chromium driven by Playwright) against the serving app on a loopback port,
/// over data the pipeline's stages made in Azurite. Every test fails if the page logs a console error or throws; every page
/// visited is saved as a screenshot under the test output folder (<c>console-screenshots/</c>).
/// </summary>
public sealed class ConsoleBrowserTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private static readonly float Timeout = 30_000;

    /// <summary>A fresh browser context (own session storage) with the function key entered, and the errors its pages report.</summary>
    private async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync(int width = 1280, int height = 900, bool withKey = true)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.BaseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            ColorScheme = ColorScheme.Light,
        });
        context.SetDefaultTimeout(Timeout);
        if (withKey)
        {
            await context.AddInitScriptAsync($"sessionStorage.setItem('pipeline.functionKey', '{ServingAppFactory.FunctionKey}');");
        }

        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                lock (errors)
                {
                    errors.Add($"{message.Type}: {message.Text} ({message.Location})");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add($"page error: {error}");
            }
        };
        return (context, page, errors);
    }

    /// <summary>Opens a console route and waits until its page (not the loading state) is shown.</summary>
    private static async Task GoAsync(IPage page, string route, string heading)
    {
        await page.GotoAsync("/console/" + route);
        await page.Locator("main h1").Filter(new LocatorFilterOptions { HasText = heading }).First.WaitForAsync();
        Assert.Equal(0, await page.Locator(".error-view").CountAsync());
    }

    private static void AssertNoErrors(List<string> errors) =>
        Assert.True(errors.Count == 0, "The console logged:\n" + string.Join('\n', errors));

    private async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(fixture.Screenshots, name + ".png"), FullPage = true });

    [Fact]
    public async Task EveryPage_Loads_WithoutConsoleErrors()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        var pages = new (string Route, string Heading, string Shot)[]
        {
            ("#/datasets", "Datasets", "datasets"),
            ($"#/datasets/{fixture.Dataset}", fixture.Dataset, "dataset"),
            ($"#/datasets/{fixture.Dataset}/versions/{fixture.Request.DatasetVersion}", fixture.Dataset, "dataset-version"),
            ($"#/datasets/{fixture.RejectedDataset}", fixture.RejectedDataset, "dataset-rejected"),
            ($"#/datasets/{fixture.RejectedDataset}/rejections/{Uri.EscapeDataString(fixture.RejectionId)}", fixture.Rejection.Blob, "rejection"),
            ("#/runs", "Training runs", "runs"),
            ($"#/runs/{fixture.RunId}", $"Run of {fixture.Model}", "run"),
            ("#/models", "Models", "models"),
            ($"#/models/{fixture.Model}", fixture.Model, "model"),
            ($"#/models/{fixture.Model}/versions/{fixture.Served.Version}", fixture.Model, "model-version"),
            ($"#/models/{fixture.RollbackModel}", fixture.RollbackModel, "model-two-versions"),
            ($"#/models/{fixture.DriftModel}", fixture.DriftModel, "model-drift-scoring"),
            ("#/scoring", "Batch scoring", "scoring"),
            ($"#/scoring/{fixture.DriftModel}", $"Batch scoring: {fixture.DriftModel}", "scoring-model"),
        };

        foreach (var (route, heading, shot) in pages)
        {
            await GoAsync(page, route, heading);
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            await ScreenshotAsync(page, shot);
        }

        AssertNoErrors(errors);
    }

    [Fact]
    public async Task DatasetVersion_ShowsTheValidationReport()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;

        await GoAsync(page, $"#/datasets/{fixture.Dataset}/versions/{fixture.Request.DatasetVersion}", fixture.Dataset);

        var columns = page.Locator(".card", new PageLocatorOptions { Has = page.Locator("h2", new PageLocatorOptions { HasTextRegex = new("^Columns$") }) });
        foreach (var column in new[] { "region", "f1", "comment", "species" })
        {
            await columns.Locator("td", new LocatorLocatorOptions { HasText = column }).First.WaitForAsync();
        }

        var region = columns.Locator("tr", new LocatorLocatorOptions { Has = page.Locator("strong", new PageLocatorOptions { HasTextRegex = new("^region$") }) });
        Assert.Contains("categorical", await region.InnerTextAsync(), StringComparison.Ordinal);
        var dropped = page.Locator(".card", new PageLocatorOptions { Has = page.Locator("h2", new PageLocatorOptions { HasTextRegex = new("^Dropped rows$") }) });
        Assert.Contains("ragged", await dropped.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("north,1.5,2.5", await dropped.InnerTextAsync(), StringComparison.Ordinal);

        // Upload to served: the timeline of stages, in order.
        var timeline = page.Locator(".card", new PageLocatorOptions { Has = page.Locator("h2", new PageLocatorOptions { HasTextRegex = new("^Timeline") }) });
        var stages = await timeline.Locator("tbody tr strong").AllInnerTextsAsync();
        Assert.Equal(["uploaded", "preprocessed", "loading", "searching"], stages.Take(4));
        Assert.Contains("publishing", stages);
        Assert.Contains("done", stages);
        Assert.Contains("+", await timeline.InnerTextAsync(), StringComparison.Ordinal);
        AssertNoErrors(errors);
    }

    [Fact]
    public async Task RejectedUpload_ShowsItsReason()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;

        await GoAsync(page, $"#/datasets/{fixture.RejectedDataset}", fixture.RejectedDataset);
        var item = page.Locator(".rejection").First;
        Assert.Contains(fixture.Rejection.Reason, await item.InnerTextAsync(), StringComparison.Ordinal);
        await item.Locator("a").ClickAsync();
        var reason = page.Locator(".rejection-reason");
        await reason.WaitForAsync();
        await ScreenshotAsync(page, "rejection-reason");

        var text = await reason.InnerTextAsync();
        Assert.Equal("header-only", fixture.Rejection.Reason);
        Assert.Contains("header-only", text, StringComparison.Ordinal);
        Assert.Contains(fixture.Rejection.Message, text, StringComparison.Ordinal);
        AssertNoErrors(errors);
    }

    [Fact]
    public async Task ServedModel_ShowsItsMetricsAndPlots()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;

        await GoAsync(page, $"#/models/{fixture.Model}", fixture.Model);

        var metrics = page.Locator(".card", new PageLocatorOptions { Has = page.Locator("h2", new PageLocatorOptions { HasTextRegex = new("^Metrics$") }) });
        var accuracy = fixture.Served.TestMetrics["accuracy"];
        Assert.Contains(accuracy.ToString("0.####", CultureInfo.InvariantCulture), await metrics.InnerTextAsync(), StringComparison.Ordinal);
        var plots = fixture.Served.Report.Where(f => f.EndsWith(".png", StringComparison.Ordinal)).ToList();
        Assert.Contains("report-confusion.png", plots);
        foreach (var plot in plots)
        {
            var image = page.Locator($"img[data-file='{plot}']");
            await image.WaitForAsync();
            await page.WaitForFunctionAsync("file => { const i = document.querySelector(`img[data-file='${file}']`); return i && i.complete && i.naturalWidth > 0; }", plot);
        }

        Assert.Contains("Model search", await page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(2, await page.Locator("h2", new PageLocatorOptions { HasText = "Quantization" }).CountAsync() + 1);
        await ScreenshotAsync(page, "model-metrics-plots");
        AssertNoErrors(errors);
    }

    [Fact]
    public async Task DriftedModel_ShowsTheLatestDriftReportWithItsColumnsLiveAccuracyAndRetrainDecision()
    {
        var report = fixture.DriftReport;
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await GoAsync(page, $"#/models/{fixture.DriftModel}", fixture.DriftModel);

        var drift = page.Locator(".card", new PageLocatorOptions { Has = page.Locator("h2", new PageLocatorOptions { HasTextRegex = new("^Drift$") }) });
        await drift.Locator("table").WaitForAsync();
        var text = await drift.InnerTextAsync();
        Assert.Contains("column(s) size drifted from the training data", text, StringComparison.Ordinal);
        Assert.Contains("1,000 observed rows", text, StringComparison.Ordinal);
        var size = drift.Locator("tr", new LocatorLocatorOptions { HasText = "size" });
        Assert.Contains("drifted", await size.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("ok", await drift.Locator("tr", new LocatorLocatorOptions { HasText = "member" }).InnerTextAsync(), StringComparison.Ordinal);

        // Live accuracy next to the test split's: 600 outcomes matched, every third one disagreeing with the prediction.
        var outcomes = Assert.IsType<LiveOutcomes>(report.Outcomes);
        Assert.Equal((600L, 400.0 / 600), (outcomes.Matched, outcomes.Live!.Value));
        var live = drift.Locator(".drift-outcomes");
        Assert.Equal(
            [$"{Number(outcomes.Live.Value)}\nLive accuracy", $"{Number(outcomes.Test!.Value)}\nTest accuracy", "600\nMatched rows"],
            (await live.Locator(".stat").AllInnerTextsAsync()).Take(3).Select(s => string.Join('\n', s.Split('\n').Take(2))));

        // The retrain decision as the drift run recorded it.
        var retrain = Assert.IsType<RetrainDecision>(report.Retrain);
        var decision = await drift.Locator(".drift-retrain").InnerTextAsync();
        Assert.Contains(System.Text.Json.JsonSerializer.Serialize(retrain.Outcome, PipelineJson.Default.RetrainOutcome).Trim('"'), decision, StringComparison.Ordinal);
        Assert.Contains(retrain.Message, decision, StringComparison.Ordinal);
        await ScreenshotAsync(page, "model-drift");
        AssertNoErrors(errors);

        static string Number(double value) => value.ToString("#,0.####", CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task BatchScoring_ShowsScoredHandedToJobAndFailedFilesWithTheirStatus()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await GoAsync(page, $"#/scoring/{fixture.DriftModel}", $"Batch scoring: {fixture.DriftModel}");

        var rows = page.Locator("#scoring-jobs tbody tr");
        Assert.Equal(3, await rows.CountAsync());
        var scored = await Row(page, "day.csv").InnerTextAsync();
        foreach (var expected in new[] { "scored", "v1", "functions app", "1,000 of 1,000", $"predictions/{fixture.DriftModel}/day.csv" })
        {
            Assert.Contains(expected, scored, StringComparison.Ordinal);
        }

        var handed = await Row(page, "big.csv").InnerTextAsync();
        Assert.Contains("handed to job", handed, StringComparison.Ordinal);
        Assert.Contains("scoring job", handed, StringComparison.Ordinal);
        var failed = await Row(page, "empty.csv").InnerTextAsync();
        Assert.Contains("failed", failed, StringComparison.Ordinal);
        Assert.Contains("unreadable-file", failed, StringComparison.Ordinal);
        await ScreenshotAsync(page, "scoring-jobs");

        // The model's page shows the same jobs and links to this page.
        await GoAsync(page, $"#/models/{fixture.DriftModel}", fixture.DriftModel);
        var card = page.Locator(".card", new PageLocatorOptions { Has = page.Locator("h2", new PageLocatorOptions { HasTextRegex = new("^Batch scoring$") }) });
        await card.Locator("tbody tr", new LocatorLocatorOptions { HasText = "day.csv" }).WaitForAsync();
        Assert.Contains("handed to job", await card.InnerTextAsync(), StringComparison.Ordinal);
        await card.Locator("a", new LocatorLocatorOptions { HasText = "Every batch-scoring job" }).ClickAsync();
        await page.Locator("main h1", new PageLocatorOptions { HasText = $"Batch scoring: {fixture.DriftModel}" }).WaitForAsync();
        AssertNoErrors(errors);

        ILocator Row(IPage on, string file) => on.Locator("#scoring-jobs tbody tr", new PageLocatorOptions { HasText = $"score/{fixture.DriftModel}/{file}" });
    }

    [Fact]
    public async Task TryItForm_ReturnsAPrediction()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await GoAsync(page, $"#/models/{fixture.Model}", fixture.Model);

        var form = page.Locator("form.try-it");
        Assert.Equal("select", await form.Locator("[name=region]").EvaluateAsync<string>("e => e.tagName.toLowerCase()"));
        await form.Locator("[name=f1]").FillAsync("4");
        await form.Locator("[name=f2]").FillAsync("4");
        await form.Locator("[name=f3]").FillAsync("0");
        await form.Locator("[name=f4]").FillAsync("2");
        await form.Locator("button[type=submit]").ClickAsync();

        var result = page.Locator(".prediction-result");
        await result.WaitForAsync();
        await ScreenshotAsync(page, "try-it");
        var label = await result.Locator(".big-metric-value").InnerTextAsync();
        Assert.Equal("beta", label);
        Assert.Equal(fixture.Served.Labels.Count, await result.Locator(".probabilities li").CountAsync());
        AssertNoErrors(errors);
    }

    [Fact]
    public async Task Rollback_AsAdmin_MovesTheCurrentVersion()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await GoAsync(page, $"#/models/{fixture.RollbackModel}", fixture.RollbackModel);

        var older = page.Locator("tr", new PageLocatorOptions { Has = page.Locator("code.version", new PageLocatorOptions { HasTextRegex = new("^v1$") }) });
        await older.Locator("button", new LocatorLocatorOptions { HasText = "Make current" }).ClickAsync();
        var dialog = page.Locator("#rollback-dialog");
        await dialog.Locator("button.primary").ClickAsync();
        await dialog.Locator(".notice.good").WaitForAsync();
        Assert.Contains("now serves v1 (was v2)", await dialog.InnerTextAsync(), StringComparison.Ordinal);
        await ScreenshotAsync(page, "rollback");

        using var client = fixture.Serving.CreateClient();
        var details = await client.GetFromJsonAsync($"/api/models/{fixture.RollbackModel}", PredictJson.Default.ModelDetails, TestContext.Current.CancellationToken);
        Assert.Equal("v1", details!.CurrentVersion);
        await page.Locator("tr", new PageLocatorOptions { Has = page.Locator("code.version", new PageLocatorOptions { HasTextRegex = new("^v1$") }) })
            .Locator(".badge", new LocatorLocatorOptions { HasText = "current" }).WaitForAsync();
        AssertNoErrors(errors);
    }

    [Fact]
    public async Task PhoneWidth_PagesFitTheScreen()
    {
        var (context, page, errors) = await OpenAsync(width: 390, height: 844);
        await using var _ = context;

        foreach (var (route, heading, shot) in new[]
        {
            ($"#/models/{fixture.Model}", fixture.Model, "phone-model"),
            ($"#/datasets/{fixture.Dataset}/versions/{fixture.Request.DatasetVersion}", fixture.Dataset, "phone-dataset-version"),
            ($"#/runs/{fixture.RunId}", $"Run of {fixture.Model}", "phone-run"),
            ($"#/models/{fixture.DriftModel}", fixture.DriftModel, "phone-model-drift"),
            ($"#/scoring/{fixture.DriftModel}", $"Batch scoring: {fixture.DriftModel}", "phone-scoring"),
        })
        {
            await GoAsync(page, route, heading);
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            await ScreenshotAsync(page, shot);
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            Assert.True(overflow <= 0, $"{route} is {overflow} px wider than a 390 px screen");
            Assert.True(await page.Locator(".nav a", new PageLocatorOptions { HasText = "Models" }).IsVisibleAsync());
        }

        AssertNoErrors(errors);
    }

    [Fact]
    public async Task WithoutAKey_AsksForIt_ThenShowsTheData()
    {
        var (context, page, _) = await OpenAsync(withKey: false);
        await using var __ = context;

        // Chromium logs the refused (401) request itself: this test does not assert a clean console.
        await page.GotoAsync("/console/#/models");
        var dialog = page.Locator("#key-dialog");
        await dialog.WaitForAsync();
        Assert.Contains("Enter the function key", await dialog.InnerTextAsync(), StringComparison.Ordinal);
        await dialog.Locator("#key-input").FillAsync("a-wrong-key-0123456789");
        await dialog.Locator("button[type=submit]").ClickAsync();
        await dialog.Locator("#key-reason", new LocatorLocatorOptions { HasText = "refused" }).WaitForAsync();

        await dialog.Locator("#key-input").FillAsync(ServingAppFactory.FunctionKey);
        await dialog.Locator("button[type=submit]").ClickAsync();
        await page.Locator(".model-card", new PageLocatorOptions { HasText = fixture.Model }).WaitForAsync();
        Assert.Equal(ServingAppFactory.FunctionKey, await page.EvaluateAsync<string>("() => sessionStorage.getItem('pipeline.functionKey')"));
    }
}
