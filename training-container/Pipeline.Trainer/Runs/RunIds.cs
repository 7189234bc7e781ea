using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Trainer.Runs;

/// <summary>Run ids: <c>{model}-{version prefix}-{hash of the request}</c>, the same for every attempt of one message.</summary>
public static class RunIds
{
    public static string For(TrainRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (StorageNames.IsValidRunId(request.RunId))
        {
            return request.RunId!;
        }

        var model = StorageNames.IsValidName(request.Model) ? request.Model : request.Dataset;
        var identity = string.Join('\n', request.Dataset, request.DatasetVersion, request.Model,
            request.RequestedAt.ToString("O", CultureInfo.InvariantCulture), request.MaxEpochs, request.Seed, request.MaxTrials,
            request.MaxSeconds?.ToString("R", CultureInfo.InvariantCulture), request.ForcePromotion);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..10];
        var version = new string(request.DatasetVersion.Where(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)).Take(12).ToArray());
        var prefix = model.Length > 63 - 24 ? model[..(63 - 24)] : model;
        return $"{prefix}-{version}-{hash}";
    }
}
