using System.Globalization;
using System.Text;
using Pipeline.Contracts;

namespace Pipeline.Preprocessing;

/// <summary>The short human-readable summary (<c>report.md</c>) of a <see cref="ValidationReport"/>.</summary>
public static class ReportSummary
{
    public static string ToMarkdown(ValidationReport report, RejectionReport? rejection = null)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.Append(c, $"# Dataset {report.Dataset}{(report.Version is null ? "" : " version " + report.Version)}: {report.Status}\n\n");
        if (rejection is not null)
        {
            text.Append(c, $"**Rejected ({rejection.Reason})**: {rejection.Message}{(rejection.Line is { } line ? $" (line {line})" : "")}\n\n");
        }

        if (report.Task is not null)
        {
            text.Append(c, $"Task: {report.Task}, target: `{report.Target}`. Rows: {report.Rows.Read} read, {report.Rows.Used} used ");
            text.Append(c, $"({report.Rows.Train} train / {report.Rows.Validation} validation / {report.Rows.Test} test).\n\n");
        }

        text.Append("## Files\n\n| File | Format | Rows | Used |\n|---|---|---:|---|\n");
        foreach (var file in report.Files)
        {
            text.Append(c, $"| {file.Blob} | {file.Format ?? "?"}{(file.Delimiter is { } d ? $" (`{d}`)" : "")} | {file.Rows} | {(file.Used ? "yes" : $"no: {file.Message}")} |\n");
        }

        if (report.Columns.Count > 0)
        {
            text.Append("\n## Columns\n\n| Column | Type | Role | Missing | Distinct | Statistics (train) / top values |\n|---|---|---|---:|---:|---|\n");
            foreach (var column in report.Columns)
            {
                var stats = column.Mean is { } mean
                    ? string.Create(c, $"min {column.Min:G4}, max {column.Max:G4}, mean {mean:G4}, std {column.Std:G4}")
                    : string.Join(", ", (column.TopValues ?? []).Select(v => $"{v.Value} ({v.Count})"));
                var role = column.Reason is null ? column.Role : $"{column.Role}: {column.Reason}";
                text.Append(c, $"| {column.Name} | {column.Type} | {role} | {column.MissingShare:P1} | {(column.DistinctIsLowerBound ? ">" : "")}{column.Distinct} | {stats} |\n");
            }
        }

        if (report.Dropped.Count > 0)
        {
            text.Append("\n## Dropped rows\n\n");
            foreach (var group in report.Dropped)
            {
                text.Append(c, $"- {group.Count} × {group.Reason}");
                text.Append(string.Concat(group.Examples.Select(e => string.Create(c, $"\n  - {e.Blob} line {e.Line}: `{e.Text.Replace('`', '\'')}`"))));
                text.Append('\n');
            }
        }

        if (report.Warnings.Count > 0)
        {
            text.Append("\n## Warnings\n\n");
            foreach (var warning in report.Warnings)
            {
                text.Append(c, $"- **{warning.Code}**: {warning.Message}\n");
            }
        }

        return text.ToString();
    }
}
