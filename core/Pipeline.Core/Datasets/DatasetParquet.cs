using Parquet;
using Parquet.Schema;

namespace Pipeline.Datasets;

/// <summary>The Parquet layout of a dataset split: one float column per feature, in manifest order, plus <see cref="TargetColumn"/>.</summary>
public static class DatasetParquet
{
    /// <summary>Name of the Parquet column that holds the target (label index or value).</summary>
    public const string TargetColumn = "__target";

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
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var count = (int)group.RowCount;
            for (var f = 0; f < featureNames.Count; f++)
            {
                await group.ReadAsync<float>(Field(featureNames[f]), features[f].AsMemory(offset, count), cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            await group.ReadAsync<float>(Field(TargetColumn), target.AsMemory(offset, count), cancellationToken: cancellationToken).ConfigureAwait(false);
            offset += count;
        }

        return new DatasetSplit(features, target);
    }

}
