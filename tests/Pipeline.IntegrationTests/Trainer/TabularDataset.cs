using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using Pipeline.Trainer;

namespace Pipeline.Tests.Trainer;

/// <summary>
/// A small tabular dataset (rows × numeric features, class index or value), seeded synthetic generators of the usual kinds,
/// and the plumbing to put it where the trainer reads it: a dataset version in Azurite (Parquet splits + manifest, as the
/// preprocess step writes them) and CSV splits for the scikit-learn baselines.
/// </summary>
internal sealed record TabularDataset(string Name, string Task, float[][] X, float[] Y, int Classes)
{
    public int Width => X[0].Length;

    public bool Classification => Task == TaskKind.Classification;

    /// <summary>Binary, logistic in a few of 12 correlated features, with label noise.</summary>
    public static TabularDataset BinaryLinear(int rows, int seed)
    {
        var random = new Random(seed);
        var weights = Enumerable.Range(0, 12).Select(i => i < 5 ? (float)(SyntheticData.Gaussian(random) * 1.5) : 0f).ToArray();
        var x = new float[rows][];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var shared = SyntheticData.Gaussian(random);
            x[r] = Enumerable.Range(0, 12).Select(i => (float)(((0.6 * shared) + SyntheticData.Gaussian(random)) * (1 + i) + (10 * i))).ToArray();
            var logit = Enumerable.Range(0, 12).Sum(i => weights[i] * (x[r][i] - (10 * i)) / (1 + i));
            y[r] = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
        }

        return new TabularDataset("binary-linear", TaskKind.Classification, x, y, 2);
    }

    /// <summary>Four classes from a nonlinear rule on two latent directions (ring and half-plane), plus six noise features.</summary>
    public static TabularDataset MulticlassNonlinear(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows][];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var a = (random.NextDouble() * 6) - 3;
            var b = (random.NextDouble() * 6) - 3;
            var radius = Math.Sqrt((a * a) + (b * b)) + (SyntheticData.Gaussian(random) * 0.15);
            y[r] = (radius < 1.6 ? 0 : 2) + (a + (0.5 * b) > 0 ? 1 : 0);
            x[r] = [(float)(a + b), (float)(a - b), .. Enumerable.Range(0, 6).Select(_ => (float)SyntheticData.Gaussian(random) * 3)];
        }

        return new TabularDataset("multiclass-nonlinear", TaskKind.Classification, x, y, 4);
    }

    /// <summary>Friedman #1: y = 10 sin(π x1 x2) + 20 (x3 − 0.5)² + 10 x4 + 5 x5 + noise, over 10 uniform features (5 unused).</summary>
    public static TabularDataset Friedman(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows][];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            x[r] = Enumerable.Range(0, 10).Select(_ => (float)random.NextDouble()).ToArray();
            y[r] = (float)((10 * Math.Sin(Math.PI * x[r][0] * x[r][1])) + (20 * Math.Pow(x[r][2] - 0.5, 2)) + (10 * x[r][3]) + (5 * x[r][4]) + SyntheticData.Gaussian(random));
        }

        return new TabularDataset("regression-friedman", TaskKind.Regression, x, y, 0);
    }

    /// <summary>
    /// Binary, from axis-aligned thresholds and an interaction on skewed (log-normal) and integer-valued features, plus noise
    /// features and 5% label noise: the kind of table where tree ensembles are strong.
    /// </summary>
    public static TabularDataset Thresholds(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows][];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var income = (float)Math.Exp(10 + SyntheticData.Gaussian(random));
            var age = 18 + random.Next(60);
            var visits = random.Next(12);
            var ratio = (float)random.NextDouble();
            var positive = (income > 30_000 && age < 45) || (visits >= 8 && ratio > 0.3) || (age >= 60 && ratio < 0.2);
            y[r] = random.NextDouble() < 0.05 ? (positive ? 0 : 1) : (positive ? 1 : 0);
            x[r] = [income, age, visits, ratio, .. Enumerable.Range(0, 4).Select(_ => (float)SyntheticData.Gaussian(random))];
        }

        return new TabularDataset("binary-thresholds", TaskKind.Classification, x, y, 2);
    }

    /// <summary>A CSV of numeric features and a last target column (class index or value), as the baseline script exports it.</summary>
    public static TabularDataset FromCsv(string path, string name, string task)
    {
        var lines = File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var classification = task == TaskKind.Classification;
        var y = lines.Select(l => l[^1]).ToArray();
        return new TabularDataset(name, task, lines.Select(l => l[..^1]).ToArray(), y, classification ? (int)y.Max() + 1 : 0);
    }

    /// <summary>A seeded shuffle into train / validation / test, and the manifest the preprocess step would write for it.</summary>
    public Splits Split(string dataset, int seed, double trainShare = 0.6, double validationShare = 0.2)
    {
        var order = Enumerable.Range(0, X.Length).ToArray();
        new Random(seed).Shuffle(order);
        var trainCount = (int)(X.Length * trainShare);
        var validationCount = (int)(X.Length * validationShare);
        var train = Take(order[..trainCount]);
        var validation = Take(order[trainCount..(trainCount + validationCount)]);
        var test = Take(order[(trainCount + validationCount)..]);
        var manifest = new DatasetManifest
        {
            Dataset = dataset,
            Version = "v1",
            Task = Task,
            Target = "target",
            Model = dataset,
            Labels = Classification ? Enumerable.Range(0, Classes).Select(k => $"c{k}").ToList() : [],
            Features = Enumerable.Range(0, Width).Select(f => Stats($"f{f}", train.Features[f])).ToList(),
            TargetStats = Classification ? null : new TargetStats
            {
                Mean = train.Target.Average(v => (double)v),
                Std = Std(train.Target),
                Min = train.Target.Min(),
                Max = train.Target.Max(),
            },
            Rows = new RowCounts { Read = X.Length, Used = X.Length, Train = train.RowCount, Validation = validation.RowCount, Test = test.RowCount },
            Splits = new Dictionary<string, string> { ["train"] = "train.parquet", ["validation"] = "validation.parquet", ["test"] = "test.parquet" },
        };
        return new Splits(manifest, train, validation, test);
    }

    private DatasetSplit Take(int[] rows)
    {
        var features = Enumerable.Range(0, Width).Select(f => rows.Select(r => X[r][f]).ToArray()).ToArray();
        return new DatasetSplit(features, rows.Select(r => Y[r]).ToArray());
    }

    private static FeatureStats Stats(string name, float[] values)
    {
        var sorted = values.Order().ToArray();
        return new FeatureStats { Name = name, Mean = values.Average(v => (double)v), Std = Std(values), Min = sorted[0], Max = sorted[^1], Median = sorted[sorted.Length / 2] };
    }

    private static double Std(float[] values)
    {
        var mean = values.Average(v => (double)v);
        return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
    }
}

internal sealed record Splits(DatasetManifest Manifest, DatasetSplit Train, DatasetSplit Validation, DatasetSplit Test)
{
    /// <summary>Writes the version to <c>datasets/{dataset}/v1/</c> in Azurite; returns the training request for it.</summary>
    public async Task<TrainRequest> UploadAsync(CancellationToken cancellationToken, int? seed = null)
    {
        var datasets = Azurite.Blobs().GetBlobContainerClient(StorageNames.DatasetsContainer);
        await datasets.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        var features = Manifest.Features.Select(f => f.Name).ToList();
        foreach (var (split, data) in new[] { ("train", Train), ("validation", Validation), ("test", Test) })
        {
            using var buffer = new MemoryStream();
            await DatasetParquet.WriteAsync(buffer, features, data, cancellationToken);
            buffer.Position = 0;
            await datasets.GetBlobClient($"{Manifest.Dataset}/{Manifest.Version}/{Manifest.Splits[split]}").UploadAsync(buffer, overwrite: true, cancellationToken);
        }

        await BlobJson.WriteAsync(datasets.GetBlobClient(StorageNames.DatasetManifestPath(Manifest.Dataset, Manifest.Version)), Manifest, PipelineJson.Default.DatasetManifest, null, cancellationToken);
        return new TrainRequest { Dataset = Manifest.Dataset, DatasetVersion = Manifest.Version, Model = Manifest.Model, RequestedAt = DateTimeOffset.UnixEpoch, Seed = seed };
    }

    /// <summary>train.csv, validation.csv, test.csv (features then target) and meta.json in <paramref name="folder"/>.</summary>
    public void WriteCsv(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var (split, data) in new[] { ("train", Train), ("validation", Validation), ("test", Test) })
        {
            var csv = new StringBuilder(string.Join(',', Manifest.Features.Select(f => f.Name).Append("target"))).Append('\n');
            for (var r = 0; r < data.RowCount; r++)
            {
                csv.AppendJoin(',', data.Features.Select(c => c[r].ToString("R", CultureInfo.InvariantCulture))).Append(',')
                    .Append(data.Target[r].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            }

            File.WriteAllText(Path.Combine(folder, split + ".csv"), csv.ToString());
        }

        File.WriteAllText(Path.Combine(folder, "meta.json"), $$"""{"task":"{{Manifest.Task}}"}""");
    }
}

/// <summary>The trainer's services against Azurite with test settings (small budgets, quick status writes).</summary>
internal static class TestTrainer
{
    public static ServiceProvider Create(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = Azurite.ConnectionString,
            ["Trainer:MaxTrials"] = "3",
            ["Trainer:EnsembleSize"] = "1",
            ["Trainer:MaxEpochs"] = "40",
            ["Trainer:Patience"] = "8",
            ["Trainer:StatusInterval"] = "00:00:00.200",
            ["Quantization:WarmupRuns"] = "5",
            ["Quantization:LatencySamples"] = "10",
        };
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return new ServiceCollection().AddLogging().AddTrainer(configuration).BuildServiceProvider();
    }
}
