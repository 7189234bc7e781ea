using System.CommandLine;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Cli.Output;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline predict MODEL --file rows.csv|rows.jsonl | --json '{…}'</c>: sends the rows through
/// <c>POST /api/models/{name}/predict</c> in batches and writes the predictions in input order, as CSV (the input's
/// columns, then <c>label</c> and <c>p_{class}</c> or <c>value</c>) or JSON Lines (one prediction object per row).
/// </summary>
public static class PredictCommand
{
    /// <summary>The API's limit of rows per request.</summary>
    public const int MaxBatch = 1000;

    public static Command Create(CliHost host)
    {
        var model = new Argument<string>("model") { Description = "Model name." };
        var file = new Option<FileInfo?>("--file", "-f") { Description = "Rows to predict: CSV/TSV with a header, or JSON Lines (.jsonl); .gz accepted." };
        var json = new Option<string?>("--json") { Description = "Rows as JSON: one object, an array of objects, or {\"rows\":[…]}." };
        var version = new Option<string?>("--version") { Description = "Predict with this version instead of the served one." };
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write here instead of standard output (.csv or .jsonl chooses the format)." };
        var format = new Option<string?>("--format") { Description = "csv or jsonl (default: from --out, else csv for CSV input and jsonl otherwise)." };
        format.AcceptOnlyFromAmong("csv", "jsonl");
        var batch = new Option<int>("--batch-size") { Description = $"Rows per request, 1-{MaxBatch} (default {MaxBatch}).", DefaultValueFactory = _ => MaxBatch };
        batch.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > MaxBatch) { r.AddError($"--batch-size must be 1-{MaxBatch}."); } });
        var command = new Command("predict", "Predict rows from a file or JSON through the serving app, in batches.") { model, file, json, version, output, format, batch };
        command.Validators.Add(r =>
        {
            if ((r.GetValue(file) is null) == (r.GetValue(json) is null))
            {
                r.AddError("Pass the rows with either --file or --json.");
            }
        });
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, json: false, async (context, token) =>
        {
            var name = Names.Require(parse.GetRequiredValue(model), "model");
            var input = parse.GetValue(file);
            var outFile = parse.GetValue(output);
            var csvOut = (parse.GetValue(format) ?? (outFile is not null
                ? (PredictInput.IsCsv(outFile.Name) ? "csv" : "jsonl")
                : input is not null && PredictInput.IsCsv(input.Name) ? "csv" : "jsonl")) == "csv";
            var path = $"api/models/{name}/predict" + (parse.GetValue(version) is { } v ? $"?version={Uri.EscapeDataString(v)}" : "");

            using var reader = input is null ? null : Open(input);
            var header = new List<string>();
            var rows = input is null
                ? PredictInput.FromJson(parse.GetValue(json) ?? "")
                : PredictInput.IsCsv(input.Name)
                    ? PredictInput.Csv(reader!, input.Name.Contains(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',', input.Name, header)
                    : PredictInput.JsonLines(reader!, input.Name);

            TextWriter writer;
            try
            {
                writer = outFile is null ? context.Host.Out : new StreamWriter(outFile.FullName, append: false, new UTF8Encoding(false));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ExitCode.Usage, $"Cannot write '{outFile!.FullName}': {e.Message}", e);
            }

            var count = 0;
            string? servedBy = null;
            try
            {
                var writtenHeader = false;
                foreach (var chunk in rows.Chunk(parse.GetValue(batch)))
                {
                    var answer = await context.Target.Serving.PostAsync(path, new JsonObject { ["rows"] = new JsonArray([.. chunk.Select(r => (JsonNode)r.Values.DeepClone())]) }, admin: false, token).ConfigureAwait(false);
                    servedBy = $"{answer["model"]} version {answer["version"]}";
                    var predictions = answer["predictions"] as JsonArray ?? [];
                    if (predictions.Count != chunk.Length)
                    {
                        throw new CliException(ExitCode.Failed, $"The serving app answered {predictions.Count} predictions for {chunk.Length} rows.");
                    }

                    for (var i = 0; i < chunk.Length; i++)
                    {
                        var prediction = predictions[i] as JsonObject ?? [];
                        if (!csvOut)
                        {
                            await writer.WriteLineAsync(prediction.ToJsonString().AsMemory(), token).ConfigureAwait(false);
                            continue;
                        }

                        var labels = prediction["probabilities"] is JsonObject p ? p.Select(x => x.Key).ToList() : null;
                        var columns = chunk[i].Fields is not null ? header : [.. chunk[i].Values.Select(x => x.Key)];
                        if (!writtenHeader)
                        {
                            writtenHeader = true;
                            IEnumerable<string> names = labels is null ? ["value"] : ["label", .. labels.Select(l => "p_" + l)];
                            await writer.WriteLineAsync(Csv([.. columns, .. names])).ConfigureAwait(false);
                        }

                        IEnumerable<string> inputs = chunk[i].Fields ?? columns.Select(c => Text(chunk[i].Values[c]));
                        IEnumerable<string> outputs = labels is null
                            ? [Text(prediction["value"])]
                            : [(string?)prediction["label"] ?? "", .. labels.Select(l => Text(prediction["probabilities"]![l]))];
                        await writer.WriteLineAsync(Csv([.. inputs, .. outputs])).ConfigureAwait(false);
                    }

                    count += chunk.Length;
                }
            }
            finally
            {
                await writer.FlushAsync(token).ConfigureAwait(false);
                if (outFile is not null)
                {
                    await writer.DisposeAsync().ConfigureAwait(false);
                }
            }

            // Standard output carries only predictions: the summary goes to standard error.
            await context.Host.Error.WriteLineAsync($"{count} rows predicted by model {servedBy ?? name}{(outFile is null ? "" : $" → {outFile.FullName}")}").ConfigureAwait(false);
            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }

    private static StreamReader Open(FileInfo file)
    {
        try
        {
            Stream stream = file.OpenRead();
            if (file.Name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                stream = new GZipStream(stream, CompressionMode.Decompress);
            }

            return new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCode.Usage, $"Cannot read '{file.FullName}': {e.Message}", e);
        }
    }

    private static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        JsonValue value when value.TryGetValue<double>(out var d) => d.ToString("R", CultureInfo.InvariantCulture),
        _ => node.ToJsonString(),
    };

    private static string Csv(IEnumerable<string> fields) => string.Join(',', fields.Select(f =>
        f.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + f.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : f));
}
