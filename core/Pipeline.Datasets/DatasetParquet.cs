using Parquet;
using Parquet.Schema;

namespace Pipeline.Datasets;

/// <summary>
/// The Parquet layout of a dataset split: one column per feature, in manifest order, plus <see cref="TargetColumn"/> (a float).
/// A feature's column is a float, or a boolean when the feature only takes 0 and 1 (see <see cref="FeatureField"/>); both
/// read back as floats.
/// </summary>
public static class DatasetParquet
{
    /// <summary>Name of the Parquet column that holds the target (label index or value).</summary>
    public const string TargetColumn = "__target";

    /// <summary>
    /// A feature's column: a boolean for a <paramref name="binary"/> feature (a one-hot category or a boolean column),
    /// a bit a value instead of a float's four bytes compressed, else a float.
    /// </summary>
    public static DataField FeatureField(string name, bool binary) => binary ? new DataField<bool>(name) : new DataField<float>(name);

    public static async Task WriteAsync(Stream stream, IReadOnlyList<string> featureNames, DatasetSplit rows, CancellationToken cancellationToken)
    {
        var fields = featureNames.Select(n => (DataField)new DataField<float>(n)).Append(new DataField<float>(TargetColumn)).ToArray();
        var schema = new ParquetSchema(fields);
        await using var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        for (var f = 0; f < featureNames.Count; f++)
        {
            await group.WriteAsync<float>(fields[f], rows.Features[f], cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        await group.WriteAsync<float>(fields[^1], rows.Target, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public static async Task<DatasetSplit> ReadAsync(Stream stream, IReadOnlyList<string> featureNames, CancellationToken cancellationToken)
    {
        await using var reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        var dataFields = reader.Schema.GetDataFields();
        DataField Field(string name) => dataFields.FirstOrDefault(f => f.Name == name)
            ?? throw new InvalidDataException($"The Parquet file has no column '{name}'.");

        var total = (int)reader.RowGroups.Sum(g => g.RowCount);
        var features = featureNames.Select(_ => new float[total]).ToArray();
        var target = new float[total];
        var offset = 0;
        bool[] flags = [];
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var count = (int)group.RowCount;
            for (var f = 0; f < featureNames.Count; f++)
            {
                var field = Field(featureNames[f]);
                if (field.ClrType != typeof(bool))
                {
                    await group.ReadAsync<float>(field, features[f].AsMemory(offset, count), cancellationToken: cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (flags.Length < count)
                {
                    flags = new bool[count];
                }

                await group.ReadAsync<bool>(field, flags.AsMemory(0, count), cancellationToken: cancellationToken).ConfigureAwait(false);
                var values = features[f].AsSpan(offset, count);
                for (var i = 0; i < count; i++)
                {
                    values[i] = flags[i] ? 1f : 0f;
                }
            }

            await group.ReadAsync<float>(Field(TargetColumn), target.AsMemory(offset, count), cancellationToken: cancellationToken).ConfigureAwait(false);
            offset += count;
        }

        return new DatasetSplit(features, target);
    }

}
