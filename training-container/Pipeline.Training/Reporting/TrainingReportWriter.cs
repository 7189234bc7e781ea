using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Training.Quantization;
using Pipeline.Training;
using ScottPlot;

namespace Pipeline.Training.Reporting;

/// <summary>
/// The training report published next to the model: <c>report.md</c> (summary, test metrics, promotion decision, search
/// table, confusion matrix or error summary) and PNG plots — loss curves of the chosen trial, the validation metric of every
/// trial per epoch, and a confusion matrix (classification) or predicted-vs-actual plot (regression) of the served artifact
/// on the test split.
/// </summary>
public sealed partial class TrainingReportWriter(ILogger<TrainingReportWriter> logger)
{
    public const string ReportFile = Pipeline.Storage.StorageNames.TrainingReportFile;
    public const string LossPlot = "report-loss.png";
    public const string MetricPlot = "report-search.png";
    public const string ConfusionPlot = "report-confusion.png";
    public const string PredictedPlot = "report-predicted.png";
    private const int Width = 800;
    private const int Height = 480;

    /// <param name="manifest">The version's manifest, complete but for <see cref="ModelManifest.Report"/>.</param>
    /// <param name="search">The finished search (every trial's curves).</param>
    /// <param name="best">The chosen trial.</param>
    /// <param name="test">The test split.</param>
    /// <param name="served">Outputs of the served artifact on <paramref name="test"/> (probabilities row-major, or values).</param>
    /// <returns>File name in the version folder → bytes.</returns>
    public IReadOnlyDictionary<string, byte[]> Write(ModelManifest manifest, SearchState search, TrialState best, EvaluationSet test, float[] served)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(search);
        ArgumentNullException.ThrowIfNull(best);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(served);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var plots = new List<(string File, string Caption)>();
        void TryPlot(string file, string caption, Func<byte[]> render)
        {
            try
            {
                files[file] = render();
                plots.Add((file, caption));
            }
            catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or InvalidOperationException)
            {
                // Plots are for people; a missing native Skia library must not stop a model from being published.
                LogPlotFailed(logger, file, e.Message);
            }
        }

        TryPlot(LossPlot, "Loss per epoch of the chosen trial", () => LossCurves(best));
        TryPlot(MetricPlot, $"Validation {Metric(test)} per epoch, every trial", () => SearchCurves(search, test));
        int[,]? confusion = null;
        if (test.Classification)
        {
            confusion = Confusion(served, test);
            TryPlot(ConfusionPlot, "Confusion matrix of the served model on the test split", () => ConfusionMatrix(confusion, manifest.Labels));
        }
        else
        {
            TryPlot(PredictedPlot, "Predicted vs actual, served model, test split", () => PredictedVsActual(served, test.Target, manifest.Target));
        }

        files[ReportFile] = Encoding.UTF8.GetBytes(Markdown(manifest, test, confusion, served, plots));
        return files;
    }

    private static string Metric(EvaluationSet test) => test.QualityMetric;

    private static byte[] LossCurves(TrialState best)
    {
        var plot = new Plot();
        var epochs = best.History.Select(h => (double)h.Epoch).ToArray();
        var train = plot.Add.Scatter(epochs, best.History.Select(h => h.TrainLoss).ToArray());
        train.LegendText = "train";
        train.MarkerSize = 0;
        var validation = plot.Add.Scatter(epochs, best.History.Select(h => h.ValidationLoss).ToArray());
        validation.LegendText = "validation";
        validation.MarkerSize = 0;
        if (best.BestEpoch > 0)
        {
            var line = plot.Add.VerticalLine(best.BestEpoch);
            line.LegendText = $"best epoch ({best.BestEpoch})";
            line.LinePattern = LinePattern.Dashed;
        }

        plot.Title($"Trial {best.Index + 1}: {best.Parameters}");
        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.ShowLegend();
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static byte[] SearchCurves(SearchState search, EvaluationSet test)
    {
        var plot = new Plot();
        foreach (var trial in search.Completed.Where(t => t.History.Count > 0))
        {
            var scatter = plot.Add.Scatter(trial.History.Select(h => (double)h.Epoch).ToArray(), trial.History.Select(h => h.ValidationMetric).ToArray());
            scatter.MarkerSize = 0;
            scatter.LineWidth = search.Completed.IndexOf(trial) == search.Best ? 3 : 1;
            scatter.LegendText = $"{trial.Index + 1}: {trial.Parameters.Architecture}" + (search.Completed.IndexOf(trial) == search.Best ? " (chosen)" : "");
        }

        plot.Title($"Validation {Metric(test)} per epoch");
        plot.XLabel("epoch");
        plot.YLabel(Metric(test));
        if (!test.Classification)
        {
            // r2 of a bad first epoch can be far below 0; keep the interesting range visible.
            plot.Axes.SetLimitsY(Math.Max(-0.5, search.Completed.SelectMany(t => t.History).Select(h => h.ValidationMetric).DefaultIfEmpty(0).Min()), 1.02);
        }

        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static int[,] Confusion(float[] probabilities, EvaluationSet test)
    {
        var matrix = new int[test.Classes, test.Classes];
        for (var r = 0; r < test.Rows; r++)
        {
            var row = probabilities.AsSpan(r * test.Classes, test.Classes);
            var predicted = 0;
            for (var k = 1; k < test.Classes; k++)
            {
                predicted = row[k] > row[predicted] ? k : predicted;
            }

            matrix[(int)test.Target[r], predicted]++;
        }

        return matrix;
    }

    private static byte[] ConfusionMatrix(int[,] matrix, List<string> labels)
    {
        var plot = new Plot();
        var n = labels.Count;
        // Correct cells shade against the largest correct count, errors against the largest error count, so a few errors still show.
        var maxCorrect = Math.Max(1, Enumerable.Range(0, n).Max(k => matrix[k, k]));
        var maxError = Math.Max(1, Enumerable.Range(0, n * n).Where(i => i / n != i % n).Select(i => matrix[i / n, i % n]).DefaultIfEmpty(0).Max());
        for (var actual = 0; actual < n; actual++)
        {
            for (var predicted = 0; predicted < n; predicted++)
            {
                var count = matrix[actual, predicted];
                var y = n - 1 - actual;
                var cell = plot.Add.Rectangle(predicted, predicted + 1, y, y + 1);
                var shade = (byte)(255 - (180 * count / (actual == predicted ? maxCorrect : maxError)));
                cell.FillColor = actual == predicted ? new Color(shade, 255, shade) : new Color(255, shade, shade);
                cell.LineColor = Colors.Gray;
                var text = plot.Add.Text(count.ToString(CultureInfo.InvariantCulture), predicted + 0.5, y + 0.5);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = n > 8 ? 10 : 16;
            }
        }

        var positions = Enumerable.Range(0, n).Select(i => i + 0.5).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. labels]);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. Enumerable.Reverse(labels)]);
        plot.Axes.SetLimits(0, n, 0, n);
        plot.Title("Confusion matrix (test split)");
        plot.XLabel("predicted");
        plot.YLabel("actual");
        return plot.GetImageBytes(Math.Max(480, 60 * n), Math.Max(480, 60 * n), ImageFormat.Png);
    }

    private static byte[] PredictedVsActual(float[] predicted, float[] actual, string target)
    {
        var plot = new Plot();
        var points = plot.Add.ScatterPoints(actual.Select(a => (double)a).ToArray(), predicted.Select(p => (double)p).ToArray());
        points.MarkerSize = 4;
        var low = Math.Min(actual.Min(), predicted.Min());
        var high = Math.Max(actual.Max(), predicted.Max());
        var diagonal = plot.Add.Line(low, low, high, high);
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.LegendText = "predicted = actual";
        plot.Title($"Predicted vs actual {target} (test split)");
        plot.XLabel($"actual {target}");
        plot.YLabel($"predicted {target}");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static string Markdown(ModelManifest m, EvaluationSet test, int[,]? confusion, float[] served, List<(string File, string Caption)> plots)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        void Line(FormattableString text) => md.AppendLine(text.ToString(inv));
        Line($"# {m.Model} — version {m.Version}");
        md.AppendLine();
        Line($"Trained {m.CreatedAt:yyyy-MM-dd HH:mm} UTC from dataset `{m.Dataset}` version `{m.DatasetVersion}`: {m.Task}, target `{m.Target}`, {m.Features.Count} features, {test.Rows} test rows.");
        md.AppendLine();
        md.AppendLine("## Result");
        md.AppendLine();
        var promotion = m.Promotion;
        Line($"- **Served artifact:** `{m.Artifact}`{(m.Quantization is { } q ? $" — quantization gate: {q.Reason}" : "")}");
        Line($"- **Test metrics (served artifact):** {string.Join(", ", m.TestMetrics.Select(kv => $"{kv.Key} {kv.Value:F4}"))}");
        if (promotion is not null)
        {
            Line($"- **Promoted to current:** {(promotion.Promoted ? "yes" : "no — kept as a candidate")}. {promotion.Reason}.");
        }

        var t = m.Training;
        if (t.Family is { } treeFamily && treeFamily.IsTrees())
        {
            Line($"- **Chosen model:** {(treeFamily == ModelFamily.RandomForest ? "random forest" : "gradient-boosted trees")} (LightGBM), {t.Model}; {t.Trees} trees, best round {t.BestEpoch} of {t.Epochs}.");
        }
        else if (t.Family == ModelFamily.Linear && t.LearningRate == 0)
        {
            // Fitted exactly (no optimizer, so no learning rate); the description names the chosen penalty.
            Line($"- **Chosen model:** {t.Model}{(t.InputEncoding is { } encoding ? $" on a {encoding} input encoding" : "")}.");
        }
        else
        {
            var member = t.EnsembleSize > 1 ? t.HiddenLayers.Select(h => h / t.EnsembleSize).ToList() : t.HiddenLayers;
            var architecture = (member.Count == 0 ? "linear" : "MLP " + string.Join('×', member)) + (t.InputEncoding is { } encoding ? $" on a {encoding} input encoding" : "");
            Line($"- **Chosen model:** {(t.EnsembleSize > 1 ? $"average of {t.EnsembleSize} × {architecture} ({(m.Search?.CrossValidationFolds is null ? "other seeds" : "one per cross-validation fold")}), served as one MLP {string.Join('×', t.HiddenLayers)}" : architecture)}, learning rate {t.LearningRate:G3}, weight decay {t.WeightDecay:G3}, dropout {t.Dropout:G2}, batch {t.BatchSize}; best epoch {t.BestEpoch} of {t.Epochs}.");
        }

        Line($"- **Training:** {t.Seconds:F1} s on {t.Device} over {t.Attempts} attempt(s); GPU-seconds {t.GpuSeconds:F1}, estimated cost {t.EstimatedCost:F4}.");
        md.AppendLine();
        foreach (var (file, caption) in plots)
        {
            Line($"![{caption}]({file})");
            md.AppendLine();
        }

        if (m.Search is { } search)
        {
            md.AppendLine("## Model search");
            md.AppendLine();
            Line($"Budget: {search.MaxTrials} trials, {search.MaxSeconds:F0} s, up to {search.MaxEpochs} epochs per trial (patience {search.Patience}). Stopped by: {search.StoppedBy}. Ranked by {search.SelectedBy}.");
            md.AppendLine();
            Line($"| family | trials | best validation loss | best validation {search.Metric} | seconds |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var family in search.Trials.Where(t => !t.EnsembleMember).GroupBy(t => t.Kind))
            {
                var top = family.MinBy(t => t.ValidationLoss)!;
                Line($"| {family.Key.Name()} | {family.Count()} | {top.ValidationLoss:F4} | {top.ValidationMetric:F4} | {family.Sum(t => t.Seconds):F1} |");
            }

            md.AppendLine();
            Line($"Trees train by rounds: for a gbdt or rf trial, epochs are rounds (trees per class) and the learning rate is gbdt's shrinkage.");
            md.AppendLine();
            Line($"| # | model | lr | weight decay | dropout | batch | epochs (best) | validation loss | validation {search.Metric} | seconds | stopped |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var trial in search.Trials)
            {
                var chosen = trial.Index == search.Trials[search.Selected].Index ? " **chosen**" : trial.EnsembleMember ? " (re-run)" : "";
                var model = trial.Kind switch
                {
                    ModelFamily.Gbdt or ModelFamily.RandomForest => trial.Description ?? trial.Kind.Name(),
                    ModelFamily.Linear => "linear",
                    _ => "MLP " + string.Join('×', trial.HiddenLayers),
                } + (trial.InputEncoding is null ? "" : " + PLE");
                Line($"| {trial.Index + 1}{chosen} | {model} | {trial.LearningRate:G3} | {trial.WeightDecay:G3} | {trial.Dropout:G2} | {trial.BatchSize} | {trial.Epochs} ({trial.BestEpoch}) | {trial.ValidationLoss:F4} | {trial.ValidationMetric:F4} | {trial.Seconds:F1} | {trial.StopReason} |");
            }

            md.AppendLine();
            if (search.Ensemble is { } ensemble)
            {
                Line($"Ensemble of the chosen configuration ({ensemble.Members} seeds): validation loss {ensemble.ValidationLoss:F4}, {search.Metric} {ensemble.ValidationMetric:F4} — {(ensemble.Used ? "served (lower validation loss than the chosen trial alone)" : "not served (the chosen trial alone validated better)")}.");
                md.AppendLine();
            }
        }

        if (confusion is not null)
        {
            md.AppendLine("## Confusion matrix (test split, rows = actual)");
            md.AppendLine();
            md.Append("| actual \\ predicted | ").AppendJoin(" | ", m.Labels).AppendLine(" |");
            md.Append("|---|").AppendJoin("", m.Labels.Select(_ => "---|")).AppendLine();
            for (var a = 0; a < m.Labels.Count; a++)
            {
                md.Append(inv, $"| {m.Labels[a]} | ").AppendJoin(" | ", Enumerable.Range(0, m.Labels.Count).Select(p => confusion[a, p])).AppendLine(" |");
            }
        }
        else
        {
            var errors = served.Zip(test.Target, (p, a) => (double)p - a).ToArray();
            md.AppendLine("## Errors (test split)");
            md.AppendLine();
            Line($"Mean error {errors.Average():G4}, mean absolute error {errors.Average(Math.Abs):G4}, largest absolute error {errors.Max(Math.Abs):G4}.");
        }

        return md.ToString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Report plot {File} could not be rendered: {Error}")]
    private static partial void LogPlotFailed(ILogger logger, string file, string error);
}
