import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useMemo } from "react";

// Only the parts the report draws (keeps the browser bundle small); SVG so the same markup is
// rendered on the server and in the browser, and Chinese labels use the page's own fonts (decision 0830).
echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

export interface Series {
  name: string;
  values: number[];
  kind?: "bar" | "line";
  /** Draw against the right-hand axis as a percentage (rates beside counts). */
  percent?: boolean;
}

/** A bar/line chart rendered to an SVG string (ECharts server-side rendering mode, no DOM needed). */
export function ReportChart({ categories, series, label, width = 760, height = 280, horizontal = false }: { categories: string[]; series: Series[]; label: string; width?: number; height?: number; horizontal?: boolean }) {
  const svg = useMemo(() => {
    const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
    const hasPercent = series.some((s) => s.percent);
    const category = { type: "category" as const, data: categories, axisLabel: { interval: 0, fontSize: 11 } };
    const value = { type: "value" as const };
    chart.setOption({
      animation: false,
      textStyle: { fontFamily: "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif" },
      legend: { top: 0 },
      grid: { left: horizontal ? 210 : 48, right: hasPercent ? 56 : 24, top: 32, bottom: 32 },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? { ...category, inverse: true } : hasPercent ? [value, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }] : value,
      series: series.map((s) => ({
        name: s.name,
        type: s.kind ?? "bar",
        data: s.percent ? s.values.map((v) => Math.round(v * 1000) / 10) : s.values,
        yAxisIndex: s.percent && !horizontal ? 1 : 0,
        label: { show: horizontal, position: "right" },
      })),
    });
    const out = chart.renderToSVGString();
    chart.dispose();
    return out;
  }, [categories, series, width, height, horizontal]);
  return <figure className="report-chart" role="img" aria-label={label} data-testid="report-chart" dangerouslySetInnerHTML={{ __html: svg }} />;
}
