using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Drift;

/// <summary>
/// Seeded rows over <see cref="TestModels.RawColumns"/> (size ~ N(5, 2) with 5 % missing; color red 50 %, blue 30 %,
/// green 20 % — green is not a model category, so "other"; member true 40 %), the baseline the trainer would record for
/// them, and CSV files to score: like the training data, or with chosen columns shifted.
/// </summary>
public static class DriftData
{
    public static readonly string[] Header = ["id", "size", "color", "member", "label"];

    /// <param name="sizeShift">Added to every size.</param>
    /// <param name="newColorShare">Share of rows whose color is one the model never saw ("purple").</param>
    /// <param name="missingMember">Share of rows whose member value is missing.</param>
    public static List<string[]> Rows(int count, int seed, double sizeShift = 0, double newColorShare = 0, double missingMember = 0)
    {
        var random = new Random(seed);
        var rows = new List<string[]>(count);
        for (var i = 0; i < count; i++)
        {
            var gauss = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var size = random.NextDouble() < 0.05 ? "" : (5 + (2 * gauss) + sizeShift).ToString("0.###", CultureInfo.InvariantCulture);
            var u = random.NextDouble();
            var color = random.NextDouble() < newColorShare ? "purple" : u < 0.5 ? "red" : u < 0.8 ? "blue" : "green";
            var member = random.NextDouble() < missingMember ? "" : random.NextDouble() < 0.4 ? "true" : "false";
            rows.Add([(i + 1).ToString(CultureInfo.InvariantCulture), size, color, member, random.NextDouble() < 0.5 ? "yes" : "no"]);
        }

        return rows;
    }

    public static byte[] Csv(IEnumerable<string[]> rows) =>
        Encoding.UTF8.GetBytes(string.Join('\n', [string.Join(',', Header), .. rows.Select(r => string.Join(',', r))]) + "\n");

    /// <summary>The baseline of <see cref="TestModels.PublishEncodedAsync"/>'s model trained on <paramref name="train"/> and tested on <paramref name="test"/>.</summary>
    public static TrainingBaseline Baseline(List<string[]> train, List<string[]> test, bool regression = false)
    {
        var encoder = new FeatureEncoder(TestModels.RawColumns());
        var (columns, missing) = Encode(encoder, train);
        var stats = encoder.FeatureNames.Select((f, i) => new FeatureStats { Name = f, Missing = f == "size" ? missing : 0 }).ToList();
        var (testColumns, _) = Encode(encoder, test);
        var outputs = new float[test.Count * (regression ? 1 : 2)];
        for (var r = 0; r < test.Count; r++)
        {
            // The published model: logit(yes) = 0.5·size + 2·red − blue + 0.3·other + 1.5·member − 3 (regression: that value).
            var logit = (0.5 * testColumns[0][r]) + (2 * testColumns[1][r]) - testColumns[2][r] + (0.3 * testColumns[3][r]) + (1.5 * testColumns[4][r]) - 3;
            var yes = (float)(1 / (1 + Math.Exp(-logit)));
            if (regression)
            {
                outputs[r] = (float)logit;
            }
            else
            {
                (outputs[2 * r], outputs[(2 * r) + 1]) = (1 - yes, yes);
            }
        }

        return TrainingBaselines.Build(encoder.Columns, encoder.FeatureNames, columns, stats, train.Count, TrainingBaselines.DefaultBins, regression ? [] : ["no", "yes"], outputs);
    }

    private static (float[][] Columns, int MissingSize) Encode(FeatureEncoder encoder, List<string[]> rows)
    {
        var columns = encoder.FeatureNames.Select(_ => new float[rows.Count]).ToArray();
        var row = new float[encoder.Width];
        var missing = 0;
        for (var r = 0; r < rows.Count; r++)
        {
            for (var c = 0; c < encoder.Columns.Count; c++)
            {
                var read = encoder.Encode(c, rows[r][c + 1], row.AsSpan(encoder.OffsetOf(c), encoder.WidthOf(c)));
                missing += c == 0 && !read ? 1 : 0;
            }

            for (var f = 0; f < row.Length; f++)
            {
                columns[f][r] = row[f];
            }
        }

        return (columns, missing);
    }

    /// <summary>Publishes the model with the baseline of 3,000 training rows and 600 test rows (seeds 1 and 2).</summary>
    public static Task PublishAsync(string model, string version = "v1", bool regression = false) =>
        TestModels.PublishEncodedAsync(model, version, regression, baseline: Baseline(Rows(3000, seed: 1), Rows(600, seed: 2), regression));

    /// <summary>The <c>id</c> and <c>prediction</c> columns of a batch output in CSV (the input's columns, then the prediction).</summary>
    public static async Task<Dictionary<string, string>> PredictionsAsync(string blob)
    {
        var text = (await Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer).GetBlobClient(blob)
            .DownloadContentAsync(TestContext.Current.CancellationToken)).Value.Content.ToString();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        var prediction = Array.IndexOf(header, "prediction");
        return lines.Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0], f => f[prediction]);
    }

    /// <summary>Uploads <paramref name="content"/> to <c>outcomes/{blob}</c>.</summary>
    public static async Task UploadOutcomesAsync(string blob, string content)
    {
        var outcomes = Azurite.Blobs().GetBlobContainerClient(StorageNames.OutcomesContainer);
        await outcomes.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
        await outcomes.GetBlobClient(blob).UploadAsync(BinaryData.FromString(content), overwrite: true, TestContext.Current.CancellationToken);
    }

    /// <summary>Drops <paramref name="content"/> at <c>score/{blob}</c> and scores it as the Score function does.</summary>
    public static async Task<ScoringReport> ScoreAsync(PreprocessingApp app, string blob, byte[] content)
    {
        var cancellation = TestContext.Current.CancellationToken;
        var score = Azurite.Blobs().GetBlobContainerClient(StorageNames.ScoreContainer);
        await score.CreateIfNotExistsAsync(cancellationToken: cancellation);
        await score.GetBlobClient(blob).UploadAsync(new BinaryData(content), overwrite: true, cancellation);
        await app.ScoreFunction.RunAsync(Invocations.BlobCreatedEvent(StorageNames.ScoreContainer, blob).ToJsonString(), cancellation);
        var read = await BlobJson.ReadAsync(Azurite.Blobs().GetBlobContainerClient(StorageNames.PredictionsContainer).GetBlobClient(blob + StorageNames.ScoringReportSuffix),
            PipelineJson.Default.ScoringReport, cancellation);
        var report = Assert.NotNull(read).Value;
        Assert.Equal(ScoringStatus.Succeeded, report.Status);
        return report;
    }

    /// <summary>The report the drift job wrote today for <paramref name="model"/>, and its Markdown.</summary>
    public static async Task<(DriftReport Report, string Markdown)> ReadReportAsync(string model)
    {
        var cancellation = TestContext.Current.CancellationToken;
        var monitoring = Azurite.Blobs().GetBlobContainerClient(StorageNames.MonitoringContainer);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var json = await BlobJson.ReadAsync(monitoring.GetBlobClient(StorageNames.DriftReportPath(model, today, ".json")), PipelineJson.Default.DriftReport, cancellation);
        var markdown = (await monitoring.GetBlobClient(StorageNames.DriftReportPath(model, today, ".md")).DownloadContentAsync(cancellation)).Value.Content.ToString();
        return (Assert.NotNull(json).Value, markdown);
    }
}
