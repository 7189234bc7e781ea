using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Pipeline.Preprocessing;

// Preprocessing benchmark harness (not a test). See docs/benchmarks.md, "Preprocessing", and bench/preprocess/run.sh.
//   generate <file> <megabytes>   writes a seeded mixed-type CSV (25 columns) of about that size
//   run <file> [work-folder] [warm]
//                                 preprocesses it as the Preprocess function does (both passes, Parquet splits) and prints
//                                 one JSON line: bytes, seconds, MB/s, peak RSS (VmHWM) and the dataset's shape; "warm"
//                                 builds it once untimed first, as a function host that has already built a dataset
//   probe [threads]               times a fixed parsing workload on 1 (or that many) threads at once and prints the mean
//                                 seconds per thread: run on each core in turn (taskset) and then on all of them, it
//                                 shows whether a core is slower than another right now and how much they slow each other
return args switch
{
    ["probe"] => Probe(1),
    ["probe", var threads] => Probe(int.Parse(threads, CultureInfo.InvariantCulture)),
    ["generate", var path, var megabytes] => Generate(path, long.Parse(megabytes, CultureInfo.InvariantCulture) * 1024 * 1024),
    ["run", var path] => await RunAsync(path, Path.Combine(Path.GetTempPath(), "preprocess-bench-" + Environment.ProcessId), warm: false),
    ["run", var path, var work] => await RunAsync(path, work, warm: false),
    ["run", var path, var work, "warm"] => await RunAsync(path, work, warm: true),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: generate <file> <megabytes> | run <file> [work-folder] [warm] | probe [threads]");
    return 2;
}

static int Generate(string path, long bytes)
{
    var random = new Random(20261123);
    string[] cities = ["amsterdam", "berlin", "copenhagen", "dublin", "edinburgh", "florence", "geneva", "hamburg", "istanbul", "jerusalem", "krakow", "lisbon"];
    string[] plans = ["free", "basic", "plus", "pro", "enterprise"];
    string[] channels = ["web", "ios", "android", "partner", "email", "store", "phone"];
    string[] labels = ["churned", "retained", "upgraded"];
    using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
    var header = new List<string>();
    for (var i = 1; i <= 14; i++)
    {
        header.Add($"num{i}");
    }

    header.AddRange(["count1", "count2", "count3", "city", "plan", "channel", "active", "verified", "signup", "spend", "label"]);
    writer.Write(string.Join(',', header));
    writer.Write('\n');
    var line = new StringBuilder(256);
    var start = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    long written = 0, rows = 0;
    while (written < bytes)
    {
        line.Clear();
        var k = random.Next(3);
        for (var i = 0; i < 14; i++)
        {
            line.Append(((random.NextDouble() * 100) - 50 + (k * (i % 3))).ToString("F3", CultureInfo.InvariantCulture)).Append(',');
        }

        line.Append(random.Next(0, 1000).ToString(CultureInfo.InvariantCulture)).Append(',');
        line.Append(random.NextDouble() < 0.02 ? "" : random.Next(0, 50).ToString(CultureInfo.InvariantCulture)).Append(',');
        line.Append(random.Next(-5, 5).ToString(CultureInfo.InvariantCulture)).Append(',');
        line.Append(cities[random.Next(cities.Length)]).Append(',');
        line.Append(plans[(random.Next(plans.Length) + k) % plans.Length]).Append(',');
        line.Append(channels[random.Next(channels.Length)]).Append(',');
        line.Append(random.Next(2) == 0 ? "true" : "false").Append(',');
        line.Append(random.NextDouble() < 0.01 ? "NA" : random.Next(2) == 0 ? "yes" : "no").Append(',');
        line.Append(start.AddMinutes(random.Next(0, 3 * 365 * 24 * 60)).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)).Append(',');
        line.Append((random.NextDouble() * 1000).ToString("F2", CultureInfo.InvariantCulture)).Append(',');
        line.Append(labels[k]).Append('\n');
        writer.Write(line);
        written += line.Length;
        rows++;
    }

    Console.WriteLine($"{{\"file\":\"{path}\",\"rows\":{rows},\"columns\":{header.Count},\"bytes\":{new FileInfo(path).Length}}}");
    return 0;
}

static async Task<int> RunAsync(string path, string work, bool warm)
{
    var bytes = new FileInfo(path).Length;
    var sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(path + bytes)));
    if (warm)
    {
        // A function host that has already built a dataset: code compiled, pools warm.
        await new DatasetBuilder(new PreprocessOptions()).BuildAsync([new DataFile("raw/bench/" + Path.GetFileName(path), path, sha, bytes)], null, work, CancellationToken.None);
    }

    var stopwatch = Stopwatch.StartNew();
    var prepared = await new DatasetBuilder(new PreprocessOptions()).BuildAsync([new DataFile("raw/bench/" + Path.GetFileName(path), path, sha, bytes)], null, work, CancellationToken.None);
    var seconds = stopwatch.Elapsed.TotalSeconds;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    var parquet = prepared.SplitFiles.Values.Sum(f => new FileInfo(f).Length);
    Directory.Delete(work, recursive: true);
    var peak = PeakRssMegabytes();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"tool\":\"preprocess{(warm ? " (warm)" : "")}\",\"file\":\"{path}\",\"megabytes\":{bytes / 1048576.0:F1},\"seconds\":{seconds:F2},\"cpuSeconds\":{cpu:F2},\"mbPerSecond\":{bytes / 1048576.0 / seconds:F1},\"peakRssMb\":{peak:F0},\"rows\":{prepared.Rows.Used},\"features\":{prepared.Features.Count},\"parquetMb\":{parquet / 1048576.0:F1},\"allocatedMb\":{GC.GetTotalAllocatedBytes() / 1048576.0:F0},\"gcPauseSeconds\":{GC.GetTotalPauseDuration().TotalSeconds:F2},\"gcs\":[{GC.CollectionCount(0)},{GC.CollectionCount(1)},{GC.CollectionCount(2)}]}}"));
    return 0;
}

static int Probe(int threads)
{
    // The same numbers every time (seeded), parsed by the preprocess function's own parser on each of `threads` threads
    // at once: run alone on each core in turn (taskset), then on all of them together, it shows whether a core is slower
    // than another right now and whether the cores slow each other down. It runs in cache: memory contention does not show.
    var random = new Random(20261206);
    var cells = Enumerable.Range(0, 100_000).Select(_ => ((random.NextDouble() * 100) - 50).ToString("F3", CultureInfo.InvariantCulture)).ToArray();
    var seconds = new double[threads];
    var sums = new double[threads];
    using var start = new Barrier(threads);
    var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
    {
        start.SignalAndWait();
        var stopwatch = Stopwatch.StartNew();
        var sum = 0.0; // a local: threads adding to neighbouring array slots would slow each other through the cache
        for (var pass = 0; pass < 200; pass++)
        {
            foreach (var cell in cells)
            {
                sum += Pipeline.Datasets.RawValues.TryParseNumber(cell, out var number) ? number : 0;
            }
        }

        seconds[t] = stopwatch.Elapsed.TotalSeconds;
        sums[t] = sum;
    })).ToArray();
    foreach (var worker in workers)
    {
        worker.Start();
    }

    foreach (var worker in workers)
    {
        worker.Join();
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"tool\":\"probe\",\"threads\":{threads},\"seconds\":{seconds.Average():F3},\"checksum\":{sums.Sum():F0}}}"));
    return 0;
}

static double PeakRssMegabytes()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
    }

    return double.NaN;
}
