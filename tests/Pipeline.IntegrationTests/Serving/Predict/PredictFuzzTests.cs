using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>
/// 12,000 generated predict bodies (seeded, so a failure reproduces): valid rows, wrong types, missing, extra and
/// duplicate fields, huge and tiny numbers, NaN/Infinity, deep nesting, invalid UTF-8, truncation, random byte flips,
/// oversized bodies. No response may be a 5xx; every 4xx must be problem details naming the problem; the server must
/// stay healthy.
/// </summary>
public sealed class PredictFuzzTests() : ServedModelTest("fuzz", new Dictionary<string, string?>
{
    ["Models:MaxBodyBytes"] = MaxBodyBytes.ToString(CultureInfo.InvariantCulture),
    ["Models:MaxRows"] = "50",
})
{
    private const int Bodies = 12_000;
    private const int MaxBodyBytes = 64 * 1024;

    [Fact]
    public async Task Predict_GeneratedBodies_NeverFailWith5xx_AndEvery4xxNamesTheProblem()
    {
        var random = new Random(20261123);
        var bodies = Enumerable.Range(0, Bodies).Select(i => (Index: i, Body: Generate(random))).ToList();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();

        await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Cancellation }, async (item, token) =>
        {
            using var content = new ByteArrayContent(item.Body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await Client.PostAsync(new Uri($"/api/models/{Model}/predict", UriKind.Relative), content, token);
            var text = await response.Content.ReadAsStringAsync(token);
            var status = (int)response.StatusCode;
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (Check(status, response.Content.Headers.ContentType?.MediaType, text) is { } problem)
            {
                failures.Add($"body #{item.Index} ({Preview(item.Body)}): {problem}");
            }
        });

        Assert.True(failures.IsEmpty, $"{failures.Count} bad responses, e.g.:\n{string.Join("\n", failures.Take(10))}");
        Assert.True(statuses.GetValueOrDefault(200) > 500, $"too few valid bodies were generated: {string.Join(", ", statuses)}");
        Assert.True(statuses.GetValueOrDefault(400) > 5000, $"too few invalid bodies: {string.Join(", ", statuses)}");
        Assert.True(statuses.GetValueOrDefault(413) > 50, $"too few oversized bodies: {string.Join(", ", statuses)}");

        using var health = await Client.GetAsync(new Uri("/api/health", UriKind.Relative), Cancellation);
        using var valid = await Client.PostAsync(new Uri($"/api/models/{Model}/predict", UriKind.Relative),
            new StringContent("""{"rows":[{"a":1,"b":2}]}""", Encoding.UTF8, "application/json"), Cancellation);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("healthy", JsonNode.Parse(await health.Content.ReadAsStringAsync(Cancellation))!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
    }

    /// <summary>Null when the response is acceptable, else what is wrong with it.</summary>
    private static string? Check(int status, string? mediaType, string text)
    {
        if (status >= 500)
        {
            return $"{status}: {text}";
        }

        JsonNode? body;
        try
        {
            body = JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return $"{status} with a body that is not JSON: {text}";
        }

        if (status == 200)
        {
            return body?["predictions"] is JsonArray { Count: > 0 } ? null : $"200 without predictions: {text}";
        }

        if (status is not (400 or 413))
        {
            return $"unexpected status {status}: {text}";
        }

        if (mediaType != "application/problem+json" || body?["status"]?.GetValue<int>() != status ||
            string.IsNullOrWhiteSpace(body["title"]?.GetValue<string>()) || string.IsNullOrWhiteSpace(body["detail"]?.GetValue<string>()))
        {
            return $"{status} is not problem details naming the problem: {text}";
        }

        return text.Contains(" at Pipeline.", StringComparison.Ordinal) || text.Contains("/work/", StringComparison.Ordinal)
            ? $"{status} leaks internals: {text}"
            : null;
    }

    private static string Preview(byte[] body) =>
        body.Length <= 120 ? Encoding.UTF8.GetString(body) : Encoding.UTF8.GetString(body, 0, 120) + $"… ({body.Length} bytes)";

    private static byte[] Generate(Random random)
    {
        var kind = random.Next(12);
        return kind switch
        {
            0 or 1 => Utf8(ValidBody(random)),
            2 => Utf8(Rows(random, () => Row(random, value: () => WrongValue(random)))),
            3 => Utf8(Rows(random, () => MangledRow(random))),
            4 => Utf8(Rows(random, () => Row(random, value: () => ExtremeNumber(random)))),
            5 => Utf8(Nested(random)),
            6 => InvalidUtf8(random, Utf8(ValidBody(random))),
            7 => Truncate(random, Utf8(ValidBody(random))),
            8 => FlipBytes(random, Utf8(ValidBody(random))),
            9 => Oversized(random),
            10 => Utf8(WrongShape(random)),
            _ => Utf8(Rows(random, () => Row(random), count: random.Next(0, 2) == 0 ? 0 : 51 + random.Next(20))),
        };
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Number(Random random) => ((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 6))).ToString("R", CultureInfo.InvariantCulture);

    private static string Row(Random random, Func<string>? value = null)
    {
        value ??= () => Number(random);
        return random.Next(2) == 0 ? $$"""{"a":{{value()}},"b":{{Number(random)}}}""" : $$"""{"b":{{Number(random)}},"a":{{value()}}}""";
    }

    private static string Rows(Random random, Func<string> row, int? count = null) =>
        $$"""{"rows":[{{string.Join(',', Enumerable.Range(0, count ?? random.Next(1, 6)).Select(_ => row()))}}]}""";

    private static string ValidBody(Random random) => random.Next(5) == 0
        ? $$"""{ "options": {"x": [1, 2]}, "rows" : [ {{Row(random)}} ] }""" // unknown top-level members are ignored
        : Rows(random, () => Row(random));

    private static string WrongValue(Random random) => random.Next(9) switch
    {
        0 => "\"1.5\"",
        1 => "true",
        2 => "null",
        3 => "[1,2]",
        4 => "{\"v\":1}",
        5 => "\"\"",
        6 => "false",
        7 => "\"\\u0000\"",
        _ => "[]",
    };

    private static string ExtremeNumber(Random random) => random.Next(10) switch
    {
        0 => "1e400",
        1 => "-1e400",
        2 => "3.5e38",
        3 => "1e-400",
        4 => "123456789012345678901234567890",
        5 => "-0",
        6 => "NaN",
        7 => "Infinity",
        8 => "-Infinity",
        _ => "0." + new string('1', 5000),
    };

    private static string MangledRow(Random random) => random.Next(8) switch
    {
        0 => """{"a":1}""",
        1 => """{"b":1}""",
        2 => """{}""",
        3 => """{"a":1,"b":2,"c":3}""",
        4 => """{"a":1,"a":2,"b":3}""",
        5 => """{"A":1,"B":2}""",
        6 => $$"""{"a":1,"b":2,"{{new string('x', random.Next(100, 2000))}}":3}""",
        _ => """{"a\u0000":1,"b":2}""",
    };

    private static string Nested(Random random)
    {
        var depth = random.Next(5, 3000);
        return random.Next(3) switch
        {
            0 => new string('[', depth) + new string(']', depth),
            1 => $$"""{"rows":[{"a":{{new string('[', depth)}}1{{new string(']', depth)}},"b":1}]}""",
            _ => string.Concat(Enumerable.Repeat("{\"rows\":", depth)) + "1" + new string('}', depth),
        };
    }

    private static string WrongShape(Random random) => random.Next(10) switch
    {
        0 => "",
        1 => "   ",
        2 => "[]",
        3 => "\"rows\"",
        4 => "42",
        5 => "null",
        6 => """{"rows":{}}""",
        7 => """{"rows":"a,b"}""",
        8 => """{"rows":[1,2]}""",
        _ => """{"rows":[{"a":1,"b":2}]} trailing""",
    };

    private static byte[] InvalidUtf8(Random random, byte[] body)
    {
        byte[][] invalid = [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3], [0xE2, 0x82]];
        var insert = invalid[random.Next(invalid.Length)];
        var at = random.Next(body.Length);
        return [.. body.AsSpan(0, at), .. insert, .. body.AsSpan(at)];
    }

    private static byte[] Truncate(Random random, byte[] body) => body[..random.Next(body.Length)];

    private static byte[] FlipBytes(Random random, byte[] body)
    {
        var copy = body.ToArray();
        for (var i = random.Next(1, 4); i > 0; i--)
        {
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
        }

        return copy;
    }

    private static byte[] Oversized(Random random)
    {
        var rows = Rows(random, () => Row(random), count: 49);
        var padding = new string(' ', MaxBodyBytes + random.Next(1, 10_000));
        return Utf8(rows[..^2] + padding + rows[^2..]);
    }
}
