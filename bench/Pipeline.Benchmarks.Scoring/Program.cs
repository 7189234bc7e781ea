using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Scoring;
using Pipeline.Training.Onnx;

// Batch-scoring benchmark harness (not a test). See docs/benchmarks.md, "Batch scoring".
//   run <megabytes> [max-seconds] [work-folder]
//       generates a seeded CSV of about that size (id, 8 numbers, 2 categories, 1 boolean), scores it end to end with
//       the engine the Score function runs (read, encode, ONNX Runtime, write predictions CSV) and then runs ONNX
//       Runtime alone on rows of the same file already encoded in memory, in blocks of the same size, for as long;
//       three such pairs. Prints one JSON line: the median pair's rows/s and ratio, every pair's ratio, the reader's
//       and the reader-plus-encoder's seconds, and the peak RSS (VmHWM). The whole run is bounded by max-seconds
//       (default 900): past it the run stops with exit code 3.
const int Repeats = 3;
return args switch
{
    ["run", var mb] => await RunAsync(long.Parse(mb, CultureInfo.InvariantCulture), 900, Path.GetTempPath()),
    ["run", var mb, var seconds] => await RunAsync(long.Parse(mb, CultureInfo.InvariantCulture), int.Parse(seconds, CultureInfo.InvariantCulture), Path.GetTempPath()),
    ["run", var mb, var seconds, var work] => await RunAsync(long.Parse(mb, CultureInfo.InvariantCulture), int.Parse(seconds, CultureInfo.InvariantCulture), work),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: run <megabytes> [max-seconds] [work-folder]");
    return 2;
}

static async Task<int> RunAsync(long megabytes, int maxSeconds, string workRoot)
{
    var work = Path.Combine(workRoot, "score-bench-" + Environment.ProcessId);
    Directory.CreateDirectory(work);
    using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(maxSeconds));
    try
    {
        var input = Path.Combine(work, "input.csv");
        var generated = Generate(input, megabytes << 20, deadline.Token);
        var options = new ScoringOptions();
        using var model = ScoringModel.Create(Manifest(), Onnx(), options);

        // End to end and ONNX Runtime alone alternate, each pair close in time, so a pair's ratio sees about the same
        // machine (this one is shared); the median pair is reported.
        List<(double EndToEnd, double Onnx)> pairs = [];
        long scored = 0, peakEndToEnd = 0;
        for (var repeat = 0; repeat < Repeats; repeat++)
        {
            var report = new ScoringReport();
            var clock = Stopwatch.StartNew();
            await new BatchScorer(options).ScoreAsync(input, "input.csv", model, Path.Combine(work, "output.csv"), report, deadline.Token);
            var endToEnd = clock.Elapsed.TotalSeconds;
            if (report.Scored != generated)
            {
                Console.Error.WriteLine($"scored {report.Scored} of {generated} rows");
                return 1;
            }

            scored = report.Scored;
            peakEndToEnd = repeat == 0 ? PeakRssMegabytes() : peakEndToEnd; // before ONNX Runtime alone holds its encoded rows
            var (onnxRows, onnxSeconds) = OnnxAlone(input, model, endToEnd, deadline.Token);
            pairs.Add((report.Scored / endToEnd, onnxRows / onnxSeconds));
        }

        var readSeconds = await ReadOnlyAsync(input, null, deadline.Token);
        var encodeSeconds = await ReadOnlyAsync(input, model, deadline.Token);
        var median = pairs.OrderBy(p => p.EndToEnd / p.Onnx).ElementAt(pairs.Count / 2);
        var ratios = string.Join(',', pairs.Select(p => (p.EndToEnd / p.Onnx).ToString("F3", CultureInfo.InvariantCulture)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"bytes\":{new FileInfo(input).Length},\"rows\":{scored},\"endToEndRowsPerSecond\":{median.EndToEnd:F0},\"onnxRowsPerSecond\":{median.Onnx:F0},\"ratio\":{median.EndToEnd / median.Onnx:F3},\"ratios\":[{ratios}],\"readSeconds\":{readSeconds:F2},\"readEncodeSeconds\":{encodeSeconds:F2},\"peakRssMB\":{peakEndToEnd}}}"));
        return 0;
    }
    catch (OperationCanceledException) when (deadline.IsCancellationRequested)
    {
        Console.Error.WriteLine($"stopped after {maxSeconds} s (max-seconds)");
        return 3;
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

// Where the end-to-end time goes: the reader alone, then the reader and the encoder (no model, no output).
static async Task<double> ReadOnlyAsync(string input, ScoringModel? model, CancellationToken cancellationToken)
{
    var clock = Stopwatch.StartNew();
    using var reader = await Pipeline.Preprocessing.Formats.TabularReader.OpenAsync(input, "input.csv", cancellationToken);
    var block = new Pipeline.Preprocessing.Formats.RowBlock();
    var features = new float[model?.FeatureCount ?? 1];
    while (reader.ReadBlock(block, cancellationToken))
    {
        if (model?.Encoder is not { } encoder)
        {
            continue;
        }

        for (var r = 0; r < block.Count; r++)
        {
            for (var c = 0; c < encoder.Columns.Count; c++)
            {
                encoder.Encode(c, block.Field(r, c + 1), features.AsSpan(encoder.OffsetOf(c), encoder.WidthOf(c)));
            }
        }
    }

    return clock.Elapsed.TotalSeconds;
}

// ONNX Runtime alone: the first rows of the file (up to 200,000) encoded once, then run in blocks of 4,096 rows - about
// the size of the engine's CSV blocks - over and over for as long as the end-to-end run took (at least 2 s).
static (long Rows, double Seconds) OnnxAlone(string input, ScoringModel model, double seconds, CancellationToken cancellationToken)
{
    const int Block = 4096;
    var encoder = model.Encoder!;
    var lines = File.ReadLines(input).Skip(1).Take(200_000).ToList();
    var features = new float[lines.Count * model.FeatureCount];
    for (var r = 0; r < lines.Count; r++)
    {
        var cells = lines[r].Split(',');
        for (var c = 0; c < encoder.Columns.Count; c++)
        {
            encoder.Encode(c, cells[c + 1], features.AsSpan((r * model.FeatureCount) + encoder.OffsetOf(c), encoder.WidthOf(c)));
        }
    }

    var output = new float[Block * model.OutputWidth];
    var batch = new float[Block * model.FeatureCount];
    long rows = 0;
    var clock = Stopwatch.StartNew();
    var budget = Math.Max(2, seconds);
    for (var start = 0; clock.Elapsed.TotalSeconds < budget; start = (start + Block) % (lines.Count - Block))
    {
        cancellationToken.ThrowIfCancellationRequested();
        Array.Copy(features, start * model.FeatureCount, batch, 0, batch.Length);
        model.Run(batch, Block, output);
        rows += Block;
    }

    return (rows, clock.Elapsed.TotalSeconds);
}

static long Generate(string path, long bytes, CancellationToken cancellationToken)
{
    var random = new Random(20261207);
    string[] cities = ["amsterdam", "berlin", "copenhagen", "dublin", "edinburgh", "florence", "geneva"];
    string[] plans = ["free", "basic", "plus", "pro", "enterprise", "trial"];
    using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
    writer.Write("id,n1,n2,n3,n4,n5,n6,n7,n8,city,plan,active\n");
    var line = new StringBuilder(128);
    long written = 0, rows = 0;
    while (written < bytes)
    {
        if ((rows & 0xFFFF) == 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        line.Clear().Append(rows.ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < 8; i++)
        {
            line.Append(',').Append(((random.NextDouble() * 100) - 50).ToString("F3", CultureInfo.InvariantCulture));
        }

        line.Append(',').Append(cities[random.Next(cities.Length)]).Append(',').Append(plans[random.Next(plans.Length)]).Append(',').Append(random.Next(2) == 0 ? "true" : "false").Append('\n');
        writer.Write(line);
        written += line.Length;
        rows++;
    }

    return rows;
}

// The model: the encodings preprocessing would record for these columns (cities and plans top-5, then "other") and a
// seeded 3-class MLP 22 -> 64 -> 64 -> 3 written by the project's exporter, as the trainer publishes it.
static ModelManifest Manifest()
{
    List<ColumnEncoding> encodings = [.. Enumerable.Range(1, 8).Select(i => new ColumnEncoding { Column = $"n{i}", Kind = ColumnKinds.Numeric, Features = [$"n{i}"], Missing = [0] })];
    foreach (var (column, categories) in new[] { ("city", new[] { "amsterdam", "berlin", "copenhagen", "dublin", "edinburgh" }), ("plan", ["free", "basic", "plus", "pro", "enterprise"]) })
    {
        encodings.Add(new ColumnEncoding
        {
            Column = column, Kind = ColumnKinds.Categorical, Categories = [.. categories],
            Features = [.. categories.Select(c => FeatureEncoder.CategoryFeature(column, c)), FeatureEncoder.CategoryFeature(column, null)],
            Missing = [1, 0, 0, 0, 0, 0],
        });
    }

    encodings.Add(new ColumnEncoding { Column = "active", Kind = ColumnKinds.Boolean, Features = ["active"], Missing = [0] });
    return new ModelManifest
    {
        Model = "bench", Version = "v1", Task = TaskKind.Classification, Labels = ["a", "b", "c"], Encodings = encodings,
        Features = [.. encodings.SelectMany(e => e.Features)], IgnoredColumns = ["id"],
        InputName = OnnxContract.InputName, OutputName = OnnxContract.ProbabilitiesOutput,
    };
}

static byte[] Onnx()
{
    var random = new Random(7);
    var features = Manifest().Features;
    DenseLayer Layer(int input, int output) =>
        new(input, output, [.. Enumerable.Range(0, input * output).Select(_ => (float)((random.NextDouble() - 0.5) / Math.Sqrt(input)))], new float[output]);
    return OnnxMlpExporter.Export(new MlpDefinition(MlpTask.Classification, features, new float[features.Count], [.. Enumerable.Repeat(1f, features.Count)],
        [Layer(features.Count, 64), Layer(64, 64), Layer(64, 3)], ["a", "b", "c"]));
}

static long PeakRssMegabytes()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
    }

    return -1;
}
