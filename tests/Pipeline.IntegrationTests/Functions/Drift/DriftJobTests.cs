using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Monitoring;
using Pipeline.Preprocessing;
using Pipeline.Storage;
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
        new(Azurite.Blobs(), Azurite.Queues(), Options.Create(options), Options.Create(new PreprocessOptions()), TimeProvider.System, NullLogger<DriftJob>.Instance);

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
        // Files are taken newest first by Last-Modified, which has whole seconds.
        await Task.Delay(1100, Cancellation);
        await DriftData.ScoreAsync(_app, $"{_model}/new.csv", DriftData.Csv(DriftData.Rows(2000, seed: 14)));

        var report = await CreateSut(new DriftOptions { MaxRows = 1200 }).RunAsync(_model, Cancellation);

        Assert.Equal(1200, report!.Rows);
        Assert.Equal(1, report.Sources.BatchFiles);
        Assert.True(report.Sources.Truncated);
        Assert.Equal($"Drift:MaxRows (1200): reading stopped in predictions/{_model}/new.csv; 1 older file(s) not read; prediction logs of 7 earlier day(s) not listed",
            report.Sources.TruncatedBy);
        Assert.Equal(DriftStatus.Ok, report.Status);
    }

    [Fact]
    public async Task RunAsync_RowLimitReached_ReadsNoOlderScoringReport()
    {
        // An older scoring report that cannot be parsed: read, it would count as an unreadable file.
        var predictions = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer);
        await predictions.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await predictions.GetBlobClient($"{_model}/older.csv{StorageNames.ScoringReportSuffix}").UploadAsync(BinaryData.FromString("{not json"), overwrite: true, Cancellation);
        await Task.Delay(1100, Cancellation);
        await DriftData.ScoreAsync(_app, $"{_model}/newer.csv", DriftData.Csv(DriftData.Rows(1000, seed: 19)));

        var limited = await CreateSut(new DriftOptions { MaxRows = 500 }).RunAsync(_model, Cancellation);
        var unlimited = await CreateSut(new DriftOptions()).RunAsync(_model, Cancellation);

        Assert.Equal((500L, 0, true), (limited!.Rows, limited.Sources.UnreadableFiles, limited.Sources.Truncated));
        Assert.Contains("1 older file(s) not read", limited.Sources.TruncatedBy, StringComparison.Ordinal);
        Assert.Equal((1000L, 1, false), (unlimited!.Rows, unlimited.Sources.UnreadableFiles, unlimited.Sources.Truncated));
    }

    [Fact]
    public async Task RunAsync_ColumnMissingInEveryTrainingRow_ReportsNoPsiButItsMissingRate()
    {
        var model = Azurite.UniqueName("drift-allmissing");
        var baseline = DriftData.Baseline(DriftData.Rows(3000, seed: 1), DriftData.Rows(600, seed: 2));
        // As the trainer records a column every train-split row left empty: every value the imputed one. Its missing rate
        // is over the dataset's rows, so below 1 when the other splits had values.
        var size = baseline.Columns.Single(c => c.Column == "size");
        size.MissingRate = 0.7;
        size.Features[0] = new BinnedFeature { Feature = "size", Edges = [], Shares = [1], Min = 5, Max = 5 };
        await TestModels.PublishEncodedAsync(model, "v1", baseline: baseline);
        await DriftData.ScoreAsync(_app, $"{model}/day.csv", DriftData.Csv(DriftData.Rows(1000, seed: 20)));

        var report = await _app.DriftJob.RunAsync(model, Cancellation);

        var column = report!.Columns.Single(c => c.Column == "size");
        Assert.Null(column.Psi);
        Assert.Null(column.RangeViolationShare);
        Assert.Contains("PSI and the training range do not apply", column.Note, StringComparison.Ordinal);
        Assert.Equal(0.7, column.TrainMissingRate);
        Assert.InRange(column.MissingRate, 0.03, 0.07);
        Assert.Equal(DriftStatus.Ok, column.Status);
        Assert.DoesNotContain("size", report.DriftedColumns);
        Assert.Contains("| size | numeric | ok | n/a |", (await DriftData.ReadReportAsync(model)).Markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PredictionLabelsTheManifestDoesNotList_CountsThemAsOther()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/labels.csv", DriftData.Csv(DriftData.Rows(1000, seed: 21)));
        // Rewrite a third of the output's predictions to a label the model does not have (as an output of another model would).
        var output = Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer).GetBlobClient($"{_model}/labels.csv");
        var lines = (await output.DownloadContentAsync(Cancellation)).Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var prediction = Array.IndexOf(lines[0].Split(','), "prediction");
        var rewritten = lines.Select((line, i) =>
        {
            var fields = line.Split(',');
            if (i > 0 && i % 3 == 0)
            {
                fields[prediction] = "maybe";
            }

            return string.Join(',', fields);
        });
        await output.UploadAsync(BinaryData.FromString(string.Join('\n', rewritten) + "\n"), overwrite: true, Cancellation);

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        var other = Assert.Single(report!.Predictions!.Bins, b => b.Bin == DriftAccumulator.UnknownLabel);
        Assert.Equal(0, other.Expected);
        Assert.Equal(333.0 / 1000, other.Observed, 1e-9);
        Assert.Equal(1.0, report.Predictions.Bins.Sum(b => b.Observed), 1e-9);
        Assert.Equal(DriftStatus.Drifted, report.Predictions.Status);
    }

    [Fact]
    public async Task RunAsync_OutcomesForScoredRowsAndLoggedRows_ShowLiveAccuracyNextToTheTestSplits()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/scored.csv", DriftData.Csv(DriftData.Rows(1000, seed: 22)));
        var predicted = await DriftData.PredictionsAsync($"{_model}/scored.csv");
        // A prediction log of ten requests whose rows carry ids 5001-5010 (extra columns are ignored by predict, and logged as sent).
        await WritePredictionLogAsync(_model, [.. Enumerable.Range(5001, 10).Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), "no"))]);
        // Truth for 800 scored ids, the 10 logged ones, and 50 ids that were never scored; the truth is a seeded coin.
        var random = new Random(23);
        var truth = predicted.Keys.Take(800).Select(id => (Id: id, Label: random.NextDouble() < 0.7 ? predicted[id] : Flip(predicted[id])))
            .Concat(Enumerable.Range(5001, 10).Select(i => (Id: i.ToString(System.Globalization.CultureInfo.InvariantCulture), Label: i % 2 == 0 ? "no" : "yes")))
            .Concat(Enumerable.Range(90001, 50).Select(i => (Id: i.ToString(System.Globalization.CultureInfo.InvariantCulture), Label: "yes")))
            .ToList();
        await DriftData.UploadOutcomesAsync($"{_model}/truth.csv", "label,id\n" + string.Concat(truth.Select(t => $"{t.Label},{t.Id}\n")));
        // Computed here from the output file and the log's outputs (all "no"), independently of the report.
        var expected = (truth.Take(800).Count(t => predicted[t.Id] == t.Label) + truth.Skip(800).Take(10).Count(t => t.Label == "no")) / 810.0;

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        var outcomes = Assert.IsType<LiveOutcomes>(report!.Outcomes);
        Assert.Equal(("id", "label", "accuracy"), (outcomes.IdColumn, outcomes.LabelColumn, outcomes.Metric));
        Assert.Equal((1, 860L, 810L, 50L, 0L), (outcomes.Files, outcomes.Rows, outcomes.Matched, outcomes.UnmatchedOutcomes, outcomes.UnreadableRows));
        Assert.Equal(expected, outcomes.Live!.Value, 1e-12);
        Assert.Equal(0.9, outcomes.Test);
        Assert.Empty(outcomes.Problems);
        Assert.Contains("**Live accuracy**", (await DriftData.ReadReportAsync(_model)).Markdown, StringComparison.Ordinal);

        static string Flip(string label) => label == "yes" ? "no" : "yes";
    }

    [Fact]
    public async Task RunAsync_OutcomesWithoutTheIdOrLabelColumnOrUnreadable_AreProblemsInTheReport()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/scored.csv", DriftData.Csv(DriftData.Rows(500, seed: 24)));
        await DriftData.UploadOutcomesAsync($"{_model}/no-id.csv", "key,label\n1,yes\n");
        await DriftData.UploadOutcomesAsync($"{_model}/no-label.csv", "id,outcome\n1,yes\n");
        var outcomes = Azurite.Blobs().GetBlobContainerClient(StorageNames.OutcomesContainer);
        await outcomes.GetBlobClient($"{_model}/broken.csv.gz").UploadAsync(BinaryData.FromBytes([0x1f, 0x8b, 8, 0, 1, 2, 3]), overwrite: true, Cancellation);

        var report = await _app.DriftJob.RunAsync(_model, Cancellation);

        var live = Assert.IsType<LiveOutcomes>(report!.Outcomes);
        Assert.Equal((3, 0L, 0L), (live.Files, live.Rows, live.Matched));
        Assert.Null(live.Live);
        Assert.Contains(live.Problems, p => p.StartsWith($"outcomes/{_model}/no-id.csv has no column 'id' (the id column", StringComparison.Ordinal) && p.Contains("its columns: key, label", StringComparison.Ordinal));
        Assert.Contains(live.Problems, p => p.StartsWith($"outcomes/{_model}/no-label.csv has no column 'label' (the label column: the model's target)", StringComparison.Ordinal));
        Assert.Contains(live.Problems, p => p.StartsWith($"outcomes/{_model}/broken.csv.gz cannot be read", StringComparison.Ordinal));
        Assert.Equal(DriftStatus.Ok, report.Status);
    }

    [Fact]
    public async Task RunAsync_MoreOutcomesThanMaxOutcomeRows_HoldsTheCapAndSaysWhatWasLeft()
    {
        await DriftData.ScoreAsync(_app, $"{_model}/scored.csv", DriftData.Csv(DriftData.Rows(500, seed: 25)));
        await DriftData.UploadOutcomesAsync($"{_model}/all.csv", "id,label\n" + string.Concat(Enumerable.Range(1, 300).Select(i => $"{i},yes\n")));

        var report = await CreateSut(new DriftOptions { MaxOutcomeRows = 100 }).RunAsync(_model, Cancellation);

        var live = report!.Outcomes!;
        Assert.Equal((100L, 100L, true), (live.Rows, live.Matched, live.Truncated));
        Assert.Equal($"Drift:MaxOutcomeRows (100): reading stopped in outcomes/{_model}/all.csv; 0 older outcome file(s) not read", live.TruncatedBy);
    }

    [Fact]
    public async Task RunAsync_RegressionOutcomes_ShowLiveR2()
    {
        var model = Azurite.UniqueName("drift-r2");
        await DriftData.PublishAsync(model, regression: true);
        await DriftData.ScoreAsync(_app, $"{model}/scored.csv", DriftData.Csv(DriftData.Rows(600, seed: 26)));
        var predicted = (await DriftData.PredictionsAsync($"{model}/scored.csv")).ToDictionary(p => p.Key, p => double.Parse(p.Value, System.Globalization.CultureInfo.InvariantCulture));
        var random = new Random(27);
        var truth = predicted.ToDictionary(p => p.Key, p => p.Value + ((random.NextDouble() - 0.5) * 2));
        await DriftData.UploadOutcomesAsync($"{model}/truth.csv", "id,label\n" + string.Concat(truth.Select(t => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{t.Key},{t.Value:R}\n"))));
        var mean = truth.Values.Average();
        var expected = 1 - (truth.Sum(t => Math.Pow(t.Value - predicted[t.Key], 2)) / truth.Values.Sum(y => Math.Pow(y - mean, 2)));

        var report = await _app.DriftJob.RunAsync(model, Cancellation);

        var live = report!.Outcomes!;
        Assert.Equal(("r2", 600L, 0L), (live.Metric, live.Matched, live.UnmatchedOutcomes));
        Assert.Equal(expected, live.Live!.Value, 1e-9);
        Assert.Equal(0.9, live.Test);
    }

    /// <summary>A prediction log file as the serving app writes it: one request per row, the classification outputs for <paramref name="rows"/>' labels.</summary>
    private static async Task WritePredictionLogAsync(string model, (string Id, string Label)[] rows)
    {
        var text = new System.Text.StringBuilder();
        foreach (var (id, label) in rows)
        {
            var output = label == "yes" ? "[0.2,0.8]" : "[0.8,0.2]";
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $$"""{"time":"{{DateTimeOffset.UtcNow:O}}","rows":[{"id":{{id}},"size":5,"color":"red","member":true}],"outputs":[{{output}}]}""").Append('\n');
        }

        using var buffer = new MemoryStream();
        await using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text.ToString()), Cancellation);
        }

        var monitoring = Azurite.Blobs().GetBlobContainerClient(StorageNames.MonitoringContainer);
        await monitoring.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        var blob = StorageNames.PredictionLogPrefix(model, "v1", DateOnly.FromDateTime(DateTime.UtcNow)) + "000000-000-test-1.jsonl.gz";
        await monitoring.GetBlobClient(blob).UploadAsync(new BinaryData(buffer.ToArray()), overwrite: true, Cancellation);
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
