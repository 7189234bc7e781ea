using System.Globalization;
using System.Text;
using Pipeline.Contracts;

namespace Pipeline.Monitoring;

/// <summary>The human-readable <c>.md</c> beside a drift report's JSON.</summary>
public static class DriftMarkdown
{
    public static string Write(DriftReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        Line($"# Drift report: {report.Model} version {report.Version}");
        md.AppendLine();
        Line($"**{Status(report.Status)}** — {report.Message}");
        md.AppendLine();
        Line($"Window {report.WindowStart:yyyy-MM-dd HH:mm} to {report.WindowEnd:yyyy-MM-dd HH:mm} UTC: {report.Rows} observed rows ({report.Sources.PredictionLogRows} from {report.Sources.PredictionLogFiles} prediction log file(s), {report.Sources.BatchRows} from {report.Sources.BatchFiles} batch output(s), {report.Sources.Bytes} bytes read).");
        if (report.Sources.Truncated)
        {
            md.AppendLine();
            Line($"Reading was cut short by {report.Sources.TruncatedBy}: the report covers the newest data only.");
        }

        if (report.Outcomes is { } outcomes)
        {
            md.AppendLine();
            Line($"**Live {outcomes.Metric}** (labelled outcomes joined by `{outcomes.IdColumn}`): {(outcomes.Live is { } live ? live.ToString("0.####", CultureInfo.InvariantCulture) : "n/a")} over {outcomes.Matched} matched row(s); test split: {(outcomes.Test is { } test ? test.ToString("0.####", CultureInfo.InvariantCulture) : "n/a")}. {outcomes.Rows} outcome row(s) read from {outcomes.Files} file(s), {outcomes.UnmatchedOutcomes} matched no observed row, {outcomes.DuplicateIds} duplicate id(s), {outcomes.UnreadableRows} unreadable.");
            if (outcomes.Truncated)
            {
                Line($"Outcomes cut short by {outcomes.TruncatedBy}.");
            }

            foreach (var problem in outcomes.Problems)
            {
                Line($"- {problem}");
            }
        }

        if (report.Retrain is { } retrain)
        {
            md.AppendLine();
            Line($"**Retrain:** {retrain.Outcome.ToString().ToLowerInvariant()} — {retrain.Message}");
        }

        var t = report.Thresholds;
        md.AppendLine();
        Line($"Thresholds: PSI warning {t.PsiWarning}, drift {t.PsiDrift}; missing rate +{t.MissingRateChange:P0}; unknown categories +{t.UnknownShareChange:P0}; outside the training range {t.RangeViolationShare:P0}; at least {t.MinRows} rows.");
        if (report.Columns.Count == 0)
        {
            return md.ToString();
        }

        md.AppendLine();
        md.AppendLine("| Column | Kind | Status | PSI | Missing (train → now) | Unknown categories | Outside range | Why |");
        md.AppendLine("|---|---|---|---:|---|---:|---:|---|");
        foreach (var c in report.Columns.Append(report.Predictions).OfType<ColumnDrift>())
        {
            Line($"| {c.Column} | {c.Kind} | {Status(c.Status)} | {(c.Psi is { } psi ? psi.ToString("0.###", CultureInfo.InvariantCulture) : "n/a")} | {c.TrainMissingRate:P1} → {c.MissingRate:P1} | {(c.UnknownShare is { } u ? u.ToString("P1", CultureInfo.InvariantCulture) : "")} | {(c.RangeViolationShare is { } r ? r.ToString("P1", CultureInfo.InvariantCulture) : "")} | {string.Join("; ", c.Note is { } note ? c.Reasons.Append(note) : c.Reasons)} |");
        }

        foreach (var c in report.Columns.Append(report.Predictions).OfType<ColumnDrift>().Where(c => c.Status is DriftStatus.Drifted or DriftStatus.Warning))
        {
            md.AppendLine();
            Line($"## {c.Column}");
            md.AppendLine();
            md.AppendLine("| Bin | Expected | Observed |");
            md.AppendLine("|---|---:|---:|");
            foreach (var bin in c.Bins)
            {
                Line($"| {bin.Bin} | {bin.Expected:P1} | {bin.Observed:P1} |");
            }
        }

        return md.ToString();
    }

    private static string Status(DriftStatus status) => status switch
    {
        DriftStatus.Ok => "ok",
        DriftStatus.Warning => "warning",
        DriftStatus.Drifted => "drifted",
        _ => "insufficient data",
    };
}
