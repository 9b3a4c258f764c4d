# shellcheck shell=bash
# bench/plotlib.sh: gnuplot helpers of the bench/*plot.sh charts (source it; bash).
# Data files hold a row per metric: its label, then "median min max" per series.

# GP_BARS: the clustered-bars-with-min-max-error-bars style every panel uses.
# shellcheck disable=SC2034 # used by the scripts that source this file
GP_BARS='set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set key top left
set grid ytics
set yrange [0:*]'

# gp_series DATA NAMES: the plot clause for DATA, one series per line of the file NAMES.
gp_series() {
	local i=1 s="" name c
	while read -r name; do
		c=$((2 + 3 * (i - 1)))
		s+="${s:+, }'$1' using $c:$((c + 1)):$((c + 2)):xtic(1) title '$name'"
		i=$((i + 1))
	done <"$2"
	echo "$s"
}
