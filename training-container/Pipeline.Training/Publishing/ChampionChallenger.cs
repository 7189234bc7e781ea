using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Training.Quantization;
using Pipeline.Training;

namespace Pipeline.Training.Publishing;

/// <summary>
/// Champion/challenger: evaluates the served artifact of the current model (the champion) on the new version's test split
/// with ONNX Runtime, as the predict function would run it, and promotes the new version only when its served artifact is at
/// least as good (accuracy or r2, within a tolerance). Columns are matched by name and classes by label, so a champion
/// trained on an older layout is still compared fairly. A version that cannot be compared with the champion (another
/// task, features the champion needs are missing, the champion cannot be run) is published as a candidate, not
/// promoted: an operator promotes it (<c>POST /api/models/{name}/current</c>). With no champion at all it is promoted.
/// The decision is made on the pointer the caller read (<see cref="PointerState"/>), which the caller then moves only if
/// it is still that one.
/// </summary>
public sealed partial class ChampionChallenger(BlobServiceClient blobs, ILogger<ChampionChallenger> logger)
{
    /// <param name="challenger">The new version's manifest (features, labels, task, version).</param>
    /// <param name="test">The new version's test split.</param>
    /// <param name="challengerQuality">The served artifact's accuracy or r2 on <paramref name="test"/>.</param>
    /// <param name="tolerance">Absolute tolerance: promote when challenger ≥ champion − tolerance.</param>
    /// <param name="forced">The training request (an operator's) forces promotion.</param>
    /// <param name="current">The pointer as the caller read it.</param>
    /// <param name="cancellationToken">Cancels the downloads.</param>
    public async Task<PromotionReport> DecideAsync(ModelManifest challenger, EvaluationSet test, double challengerQuality, double tolerance, bool forced, PointerState current, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(challenger);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(current);
        var report = new PromotionReport { Metric = test.QualityMetric, Tolerance = tolerance, Challenger = challengerQuality, Forced = forced };
        var (champion, why) = await EvaluateChampionAsync(challenger, test, report, current.Current, cancellationToken).ConfigureAwait(false);
        if (forced)
        {
            report.Promoted = true;
            report.Reason = "promotion forced by the training request" + (champion is { } c ? Compare(challengerQuality, c) : $"; {why}");
        }
        else if (champion is not { } score)
        {
            // No champion: this version serves. A champion it cannot be compared with: a candidate, for an operator to promote.
            report.Promoted = current.Current is null;
            report.Reason = report.Promoted ? why! : $"{why}; published as a candidate, not promoted (an operator promotes it: POST /api/models/{challenger.Model}/current)";
        }
        else
        {
            report.Promoted = challengerQuality >= score - tolerance;
            report.Reason = (report.Promoted ? "at least as good as the current model" : "worse than the current model") + Compare(challengerQuality, score)
                + string.Create(CultureInfo.InvariantCulture, $" (tolerance {tolerance:G3})");
        }

        LogDecision(logger, challenger.Model, challenger.Version, report.Promoted, report.Reason);
        return report;

        string Compare(double a, double b) => string.Create(CultureInfo.InvariantCulture,
            $": {test.QualityMetric} {a:F4} vs {b:F4} of version {report.ChampionVersion} on this version's test split");
    }

    private async Task<(double? Score, string? Why)> EvaluateChampionAsync(ModelManifest challenger, EvaluationSet test, PromotionReport report, CurrentPointer? pointer, CancellationToken cancellationToken)
    {
        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        if (pointer is null)
        {
            return (null, "no current model");
        }

        report.ChampionVersion = pointer.Version;
        var champion = (await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.ModelManifestPath(challenger.Model, pointer.Version)), PipelineJson.Default.ModelManifest, cancellationToken).ConfigureAwait(false))?.Value;
        if (champion is null)
        {
            return (null, $"current.json points at version {pointer.Version}, which has no manifest");
        }

        if (champion.Task != challenger.Task)
        {
            return (null, $"the current model (version {pointer.Version}) is {champion.Task}, this one {challenger.Task}: not comparable");
        }

        var columns = champion.Features.Select(f => challenger.Features.IndexOf(f)).ToArray();
        if (columns.Any(c => c < 0))
        {
            var missing = champion.Features.Where(f => !challenger.Features.Contains(f));
            return (null, $"the current model (version {pointer.Version}) needs features this dataset no longer has ({string.Join(", ", missing)}): not comparable");
        }

        byte[] onnx;
        try
        {
            onnx = (await models.GetBlobClient($"{champion.Model}/{champion.Version}/{champion.Artifact}").DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return (null, $"the current model's artifact {champion.Artifact} (version {pointer.Version}) is missing");
        }

        var rows = new float[test.Rows * columns.Length];
        for (var r = 0; r < test.Rows; r++)
        {
            for (var c = 0; c < columns.Length; c++)
            {
                rows[(r * columns.Length) + c] = test.RowMajor[(r * test.Width) + columns[c]];
            }
        }

        float[] output;
        try
        {
            using var evaluator = new OnnxEvaluator(onnx, champion.InputName, champion.OutputName);
            output = evaluator.Run(rows, test.Rows, columns.Length);
        }
        catch (OnnxRuntimeException e)
        {
            return (null, $"the current model (version {pointer.Version}) could not be run: {e.Message}");
        }

        double score;
        if (test.Classification)
        {
            // Champion class k is the label champion.Labels[k]; the test target indexes challenger.Labels.
            var width = champion.Labels.Count;
            var correct = 0;
            for (var r = 0; r < test.Rows; r++)
            {
                correct += champion.Labels[Metrics.ArgMax(output.AsSpan(r * width, width))] == challenger.Labels[(int)test.Target[r]] ? 1 : 0;
            }

            score = correct / (double)test.Rows;
        }
        else
        {
            score = Metrics.Regression(output, test.Target)["r2"];
        }

        report.Champion = score;
        return (score, null);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Champion/challenger for {Model} version {Version}: promote {Promoted}, {Reason}")]
    private static partial void LogDecision(ILogger logger, string model, string version, bool promoted, string reason);
}
