using Pipeline.Datasets;
using Pipeline.Contracts;
using System.Globalization;
using System.Text;

namespace Pipeline.Tests.Infrastructure;

/// <summary>Seeded synthetic tabular data, so quality checks are not tuned to one public dataset.</summary>
public static class SyntheticData
{
    public static readonly string[] Classes = ["alpha", "beta", "gamma"];

    /// <summary>
    /// Three classes, each a Gaussian blob around its own centre in 4 numeric features (well separated, a little overlap),
    /// plus a text column (excluded as non-numeric) and a few missing cells.
    /// </summary>
    public static (string Csv, List<(double[] Features, string Label)> Rows) ThreeClass(int rows, int seed, bool withNoiseColumns = true)
    {
        var random = new Random(seed);
        double[][] centres = [[0, 0, 5, 1], [4, 4, 0, 2], [-4, 4, 2, -3]];
        var csv = new StringBuilder(withNoiseColumns ? "f1,f2,f3,f4,comment,species\n" : "f1,f2,f3,f4,species\n");
        var data = new List<(double[], string)>();
        for (var r = 0; r < rows; r++)
        {
            var k = random.Next(3);
            var features = centres[k].Select(c => c + (Gaussian(random) * 1.2)).ToArray();
            data.Add((features, Classes[k]));
            var cells = features.Select((v, i) => withNoiseColumns && random.NextDouble() < 0.01 ? "" : v.ToString("F4", CultureInfo.InvariantCulture)).ToList();
            if (withNoiseColumns)
            {
                cells.Add($"note {random.Next(1000)}");
            }

            cells.Add(Classes[k]);
            csv.Append(string.Join(',', cells)).Append('\n');
        }

        return (csv.ToString(), data);
    }

    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>A classification dataset in the layout the preprocess step writes, with raw (unstandardized) feature scales.</summary>
    public static (DatasetManifest Manifest, DatasetSplit Train, DatasetSplit Validation, DatasetSplit Test) ThreeClassDataset(int rows, int seed)
    {
        var random = new Random(seed);
        float[][] centres = [[0, 100, 5], [4, 140, 0], [-4, 120, 2]];
        float[] scales = [1.5f, 12f, 1.5f];
        DatasetSplit Make(int count)
        {
            var features = new float[3][];
            for (var f = 0; f < 3; f++)
            {
                features[f] = new float[count];
            }

            var target = new float[count];
            for (var r = 0; r < count; r++)
            {
                var k = random.Next(3);
                target[r] = k;
                for (var f = 0; f < 3; f++)
                {
                    features[f][r] = centres[k][f] + (float)(Gaussian(random) * scales[f]);
                }
            }

            return new DatasetSplit(features, target);
        }

        var train = Make(rows);
        var manifest = new DatasetManifest
        {
            Dataset = "synthetic",
            Version = "v1",
            Task = TaskKind.Classification,
            Target = "class",
            Model = "synthetic",
            Labels = ["a", "b", "c"],
            Features = Enumerable.Range(0, 3).Select(f => new FeatureStats
            {
                Name = $"x{f}",
                Mean = train.Features[f].Average(),
                Std = Math.Sqrt(train.Features[f].Average(v => Math.Pow(v - train.Features[f].Average(), 2))),
            }).ToList(),
        };
        return (manifest, train, Make(rows / 4), Make(rows / 4));
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest))
        {
            gzip.Write(bytes);
        }

        return buffer.ToArray();
    }
}
