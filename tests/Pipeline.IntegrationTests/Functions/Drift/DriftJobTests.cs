using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Monitoring;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Drift;

/// <summary>
/// Drift reports against Azurite: files scored through the real Score function are the observed data, compared with the
/// baseline in the model's manifest; the report flags exactly the columns that were shifted.
/// </summary>
public sealed class DriftJobTests : IAsyncLifetime
{
    private readonly PreprocessingApp _app = new();
    private readonly string _model = Azurite.UniqueName("drift");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        await DriftData.PublishAsync(_model);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static DriftJob CreateSut(DriftOptions options) =>
        new(Azurite.Blobs(), Options.Create(options), TimeProvider.System, NullLogger<DriftJob>.Instance);

    [Fact]
    public async Task RunAsync_ScoredFileLikeTheTrainingData_FlagsNothing()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/day1.csv", DriftData.Csv(DriftData.Rows(2000, seed: 10)));

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        Assert.NotNull(report);
        Assert.Equal(DriftStatus.Ok, report.Status);
        Assert.Empty(report.DriftedColumns);
        Assert.Equal((2000L, 1, 2000L, 0), (report.Rows, report.Sources.BatchFiles, report.Sources.BatchRows, report.Sources.PredictionLogFiles));
        Assert.All(report.Columns, c => Assert.True(c.Psi < 0.1, $"{c.Column}: PSI {c.Psi}"));
        Assert.Equal(["size", "color", "member"], report.Columns.Select(c => c.Column));
        var size = report.Columns[0];
        Assert.InRange(size.MissingRate, 0.03, 0.07);
        Assert.InRange(size.TrainMissingRate, 0.03, 0.07);
        Assert.Equal(DriftStatus.Ok, report.Predictions!.Status);
        var (stored, markdown) = await DriftData.ReadReportAsync(_model);
        Assert.Equal((report.Status, report.Rows), (stored.Status, stored.Rows));
        Assert.Contains($"# Drift report: {_model} version v1", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ScoredFileWithShiftedSizeAndNewColors_FlagsExactlyThoseColumns()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/day2.csv", DriftData.Csv(DriftData.Rows(2000, seed: 11, sizeShift: 3, newColorShare: 0.4)));

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        Assert.NotNull(report);
        Assert.Equal(DriftStatus.Drifted, report.Status);
        Assert.Equal(["size", "color"], report.DriftedColumns);
        var columns = report.Columns.ToDictionary(c => c.Column);
        Assert.True(columns["size"].Psi >= 0.25, $"size PSI {columns["size"].Psi}");
        // 1.5 standard deviations up: a few percent of sizes lie above the largest training size, under the 5 % threshold.
        Assert.InRange(columns["size"].RangeViolationShare!.Value, 0.001, 0.05);
        Assert.InRange(columns["color"].UnknownShare!.Value, 0.45, 0.60);
        Assert.InRange(columns["color"].TrainOtherShare!.Value, 0.15, 0.25);
        Assert.Contains(columns["color"].Reasons, r => r.Contains("categories the model does not know", StringComparison.Ordinal));
        Assert.Equal(DriftStatus.Ok, columns["member"].Status);
        Assert.True(columns["member"].Psi < 0.1);
        // Larger sizes drive the model towards "yes": the predictions drift too.
        Assert.Equal(DriftStatus.Drifted, report.Predictions!.Status);
        var (_, markdown) = await DriftData.ReadReportAsync(_model);
        Assert.Contains("## size", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("## member", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingValuesRise_FlagsTheColumnByItsMissingRate()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/day3.csv", DriftData.Csv(DriftData.Rows(2000, seed: 12, missingMember: 0.3)));

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        Assert.Equal(["member"], report!.DriftedColumns);
        var member = report.Columns.Single(c => c.Column == "member");
        Assert.InRange(member.MissingRate, 0.25, 0.35);
        Assert.Contains(member.Reasons, r => r.StartsWith("missing rate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_MoreRowsThanMaxRows_ReadsTheNewestRowsOnlyAndSaysSo()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/old.csv", DriftData.Csv(DriftData.Rows(500, seed: 13)));
        await DriftData.ScoreAsync(_app, $"{_model}/new.csv", DriftData.Csv(DriftData.Rows(2000, seed: 14)));

        var report = await CreateSut(new DriftOptions { MaxRows = 1200 }).RunAsync(_model, Cancellation);

        Assert.Equal(1200, report!.Rows);
        Assert.Equal(1, report.Sources.BatchFiles);
        Assert.True(report.Sources.Truncated);
        Assert.Equal($"Drift:MaxRows (1200): reading stopped in predictions/{_model}/new.csv; 1 older file(s) not read", report.Sources.TruncatedBy);
        Assert.Equal(DriftStatus.Ok, report.Status);
    }

    [Fact]
    public async Task RunAsync_FilesLargerThanMaxBytes_AreNotReadAndTheReportSaysWhy()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/big.csv", DriftData.Csv(DriftData.Rows(2000, seed: 15)));

        var report = await CreateSut(new DriftOptions { MaxBytes = 10_000 }).RunAsync(_model, Cancellation);

        Assert.Equal(0, report!.Rows);
        Assert.True(report.Sources.Truncated);
        Assert.StartsWith("Drift:MaxBytes (10000): 1 older file(s) not read, the next of ", report.Sources.TruncatedBy, StringComparison.Ordinal);
        Assert.Equal(DriftStatus.InsufficientData, report.Status);
        Assert.Empty(report.DriftedColumns);
    }

    [Fact]
    public async Task RunAsync_FewerRowsThanMinRows_JudgesNothing()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/few.csv", DriftData.Csv(DriftData.Rows(50, seed: 16, sizeShift: 10)));

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        Assert.Equal(DriftStatus.InsufficientData, report!.Status);
        Assert.Empty(report.DriftedColumns);
        Assert.All(report.Columns, c => Assert.Equal(DriftStatus.InsufficientData, c.Status));
        Assert.Contains("at least 100 (Drift:MinRows)", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ModelWithoutBaseline_WritesAReportSayingSo()
    {
        var model = Azurite.UniqueName("drift-nobase");
        await TestModels.PublishEncodedAsync(model, "v1");

        var report = await _app.DriftJob.RunAsync(model, Cancellation);

        Assert.Equal(DriftStatus.InsufficientData, report!.Status);
        Assert.Contains("no training baseline", report.Message, StringComparison.Ordinal);
        Assert.Equal(DriftStatus.InsufficientData, (await DriftData.ReadReportAsync(model)).Report.Status);
    }

    [Fact]
    public async Task RunAsync_OtherVersionsOutputs_AreNotObservedDataOfTheCurrentOne()
    {
        await DriftData.PublishAsync(_model, "v2");
        await DriftData.ScoreAsync(_app, $"{_model}@v1/shifted.csv", DriftData.Csv(DriftData.Rows(2000, seed: 17, sizeShift: 5)));
        await DriftData.ScoreAsync(_app, $"{_model}/like.csv", DriftData.Csv(DriftData.Rows(1000, seed: 18)));

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        Assert.Equal(("v2", 1000L, DriftStatus.Ok), (report!.Version, report.Rows, report.Status));
    }

    [Fact]
    public void Options_WarningAboveDrift_FailsValidation()
    {
        var options = new DriftOptions { PsiWarning = 0.3, PsiDrift = 0.2 };

        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        var valid = System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true);

        Assert.False(valid);
        Assert.Contains("Drift:PsiWarning (0.3) must not be above Drift:PsiDrift (0.2)", results.Single().ErrorMessage, StringComparison.Ordinal);
    }
}
